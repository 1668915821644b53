"""Hand-labelled concept links on the bundled corpus (corpus/*.md), for tests and calibration.

Each pair is one sentence of a document (quoted exactly, so it can be located) and one curated
concept id, labelled by reading the sentence alone: positive when the sentence speaks of the
concept, whether or not it uses one of its labels; negative when it does not. Negatives favour
concepts a model could plausibly confuse with the sentence (Leader on sentences about
leadership, the imbalance pitfalls on sentences about management, ...), since those are the
links a semantic threshold has to keep out.
"""

from __future__ import annotations

from typing import NamedTuple

SYNERGY = "synergy-of-success"  # seed 000
CONNECTION = "organizational-leadership-and-management"  # seed 003
DUO = "leadership-vs-management-power-duo"  # seed 004

BRIDGE = "In essence, managers provide the bridge between leaders and the rest of the workforce."
WHY_HOW = (
    "🧭 Leadership answers the “why,” providing vision and purpose; management answers the "
    "“how,” delivering clarity and execution."
)
TRUST = (
    "Organizational leadership and management both depend upon the trust of employees in order "
    "to succeed."
)
ALIGNMENT = "Strategic alignment enables the organization to navigate challenges effectively."
MINDSET = "Synergy is enhanced when management cultivates a leadership mindset."
SAFETY = "🤝 Leadership inspires and fosters psychological safety, enabling innovation and growth."
FUNCTIONS = (
    "It involves the practical aspects of planning, organizing, and controlling resources to "
    "ensure efficient execution."
)
EXCESS = (
    "Excess leadership without management can lead to untethered enthusiasm without execution, "
    "resulting in inefficiency and frustration."
)
BOTH_ROLES = (
    "In order to both lead and manage, it can be useful to think of the two responsibilities as "
    "separate jobs, despite the connections between them, in order to perform both roles "
    "effectively."
)
ALSO_MANAGERS = (
    "Often organizational leaders are also in management roles, and while these two "
    "responsibilities require different qualities, they must also interact well in order for "
    "either of them to be handled effectively."
)
HOW = (
    "Management, in contrast, concerns the “how”—the structures, processes, systems, and "
    "accountability mechanisms required to turn vision into actionable, measurable outcomes."
)
RELAY = (
    "The difference is that an individual in a leadership role formulates and dictates the idea, "
    "while the manager must communicate it to workers and ensure that it is pursued effectively."
)
VISIONARIES = (
    "Leaders act as visionaries who paint compelling futures and motivate people to pursue them "
    "passionately."
)
MODELING = (
    "By modeling the desired behavior and demonstrating commitment to the shared goals, leaders "
    "create a culture that fosters intrinsic motivation and passion among the team."
)
PLAN = "Management takes those insights and incorporates them into a practical plan."
DECISIONS = "Both roles require the adoption of a practical viewpoint when making decisions."
DETAIL = (
    "Effective management requires a keen eye for detail, organizational skills, and the ability "
    "to optimize processes."
)


class GoldPair(NamedTuple):
    document_id: str
    sentence: str  # exact text of one sentence of the document
    concept_id: str  # short id of a curated concept
    positive: bool
    note: str


GOLD: tuple[GoldPair, ...] = (
    # --- positives ---------------------------------------------------------------------------
    GoldPair(CONNECTION, BRIDGE, "BridgeRole", True, "managers as the bridge: the concept itself"),
    GoldPair(CONNECTION, BRIDGE, "Manager", True, "names managers"),
    GoldPair(CONNECTION, BRIDGE, "Workforce", True, "names the workforce"),
    GoldPair(DUO, WHY_HOW, "Purpose", True, "leadership answers the why: purpose"),
    GoldPair(DUO, WHY_HOW, "Execution", True, "management answers the how, delivering execution"),
    GoldPair(DUO, WHY_HOW, "Vision", True, "providing vision"),
    GoldPair(CONNECTION, TRUST, "Trust", True, "depend upon the trust of employees"),
    GoldPair(CONNECTION, TRUST, "Workforce", True, "employees are the workforce"),
    GoldPair(SYNERGY, ALIGNMENT, "StrategicAlignment", True, "names strategic alignment"),
    GoldPair(SYNERGY, MINDSET, "LeadershipMindset", True, "names a leadership mindset"),
    GoldPair(SYNERGY, MINDSET, "Synergy", True, "synergy of leadership and management"),
    GoldPair(DUO, SAFETY, "PsychologicalSafety", True, "names psychological safety"),
    GoldPair(DUO, SAFETY, "Innovation", True, "enabling innovation"),
    GoldPair(SYNERGY, FUNCTIONS, "Planning", True, "planning as a management function"),
    GoldPair(SYNERGY, FUNCTIONS, "Controlling", True, "controlling as a management function"),
    GoldPair(SYNERGY, FUNCTIONS, "Efficiency", True, "efficient execution"),
    GoldPair(DUO, EXCESS, "LeadershipWithoutManagement", True, "the pitfall, by name"),
    GoldPair(CONNECTION, BOTH_ROLES, "RoleDuality", True, "one person both leading and managing"),
    GoldPair(CONNECTION, ALSO_MANAGERS, "RoleDuality", True, "leaders also in management roles"),
    GoldPair(
        SYNERGY,
        "Adaptability is a hallmark of successful organizations, and it emanates from the "
        "flexibility embedded in both leadership and management.",
        "Flexibility",
        True,
        "adaptability and flexibility",
    ),
    GoldPair(CONNECTION, DECISIONS, "DecisionMaking", True, "making decisions"),
    GoldPair(DUO, HOW, "Structure", True, "structures, processes, systems"),
    GoldPair(DUO, HOW, "Accountability", True, "accountability mechanisms"),
    GoldPair(DUO, HOW, "Execution", True, "the how: turning vision into outcomes"),
    GoldPair(
        CONNECTION, RELAY, "BridgeRole", True, "the manager relays the leader's idea to workers"
    ),
    GoldPair(CONNECTION, RELAY, "Communication", True, "the manager must communicate it"),
    GoldPair(
        DUO,
        "Conversely, too much management without leadership creates sterile, purpose-less "
        "efficiency, missing motivation and commitment.",
        "ManagementWithoutLeadership",
        True,
        "the pitfall, by name",
    ),
    GoldPair(SYNERGY, MODELING, "RoleModeling", True, "modeling the desired behavior"),
    GoldPair(SYNERGY, MODELING, "Motivation", True, "intrinsic motivation"),
    GoldPair(
        CONNECTION,
        "Another strong connection is that for both leadership and management to be effective, "
        "an individual must be influential.",
        "Influence",
        True,
        "must be influential",
    ),
    GoldPair(
        DUO,
        "The transcript stresses that true leadership is about the choice to serve, inspire, and "
        "empower others regardless of formal authority.",
        "ServantLeadership",
        True,
        "leadership as a choice to serve, whatever one's authority",
    ),
    GoldPair(
        SYNERGY,
        "Leaders and managers must work as a cohesive unit, leveraging their respective strengths "
        "to propel the organization forward.",
        "CollaborativeCulture",
        True,
        "working as a cohesive unit",
    ),
    GoldPair(CONNECTION, PLAN, "Planning", True, "a practical plan"),
    GoldPair(DUO, VISIONARIES, "Leader", True, "leaders as visionaries"),
    GoldPair(DUO, VISIONARIES, "Vision", True, "compelling futures"),
    GoldPair(DUO, VISIONARIES, "Motivation", True, "motivate people"),
    # --- negatives ---------------------------------------------------------------------------
    GoldPair(CONNECTION, BRIDGE, "PsychologicalSafety", False, "nothing about safety to speak up"),
    GoldPair(CONNECTION, BRIDGE, "Efficiency", False, "nothing about waste or efficiency"),
    GoldPair(DUO, WHY_HOW, "BridgeRole", False, "no go-between role"),
    GoldPair(DUO, WHY_HOW, "Trust", False, "trust is not mentioned"),
    GoldPair(CONNECTION, TRUST, "Vision", False, "no picture of the future"),
    GoldPair(CONNECTION, TRUST, "LeadershipMindset", False, "no managers thinking like leaders"),
    GoldPair(SYNERGY, ALIGNMENT, "Innovation", False, "no new ideas"),
    GoldPair(
        DUO,
        "🛠️ Management organizes resources, processes, and accountability to turn ideas into "
        "results.",
        "Purpose",
        False,
        "the how of management, not the why",
    ),
    GoldPair(
        SYNERGY,
        "Fostering a collaborative culture involves breaking down silos and encouraging open "
        "dialogue.",
        "Execution",
        False,
        "culture, not delivery",
    ),
    GoldPair(
        SYNERGY,
        "Fostering a collaborative culture involves breaking down silos and encouraging open "
        "dialogue.",
        "BridgeRole",
        False,
        "silos between teams, not the manager between leaders and staff",
    ),
    GoldPair(
        DUO,
        "This reframing democratizes leadership and emphasizes personal responsibility in shaping "
        "culture and progress within organizations.",
        "Planning",
        False,
        "no planning",
    ),
    GoldPair(
        SYNERGY,
        "This flexibility is not about compromising the vision but about recognizing that the "
        "journey toward success may involve detours and unexpected turns.",
        "Trust",
        False,
        "no trust",
    ),
    GoldPair(DUO, EXCESS, "PsychologicalSafety", False, "no psychological safety"),
    GoldPair(CONNECTION, PLAN, "Leader", False, "about management turning insights into a plan"),
    GoldPair(SYNERGY, DETAIL, "ManagementWithoutLeadership", False, "good management, no pitfall"),
    GoldPair(
        DUO,
        "In doing so, leaders create environments where people feel empowered to contribute "
        "their best ideas and efforts, which is crucial in an uncertain, fast-changing world.",
        "RoleDuality",
        False,
        "leaders only, no one person in both roles",
    ),
    GoldPair(CONNECTION, DECISIONS, "Synergy", False, "a shared trait, not their combined effect"),
    GoldPair(
        SYNERGY,
        "Moreover, effective leaders go beyond vision casting; they embody the values and "
        "principles that underpin the organizational vision.",
        "LeadershipWithoutManagement",
        False,
        "leaders at their best, no pitfall",
    ),
    GoldPair(
        DUO,
        "This demonstrates that the model is universally applicable and essential across diverse "
        "fields.",
        "Trust",
        False,
        "no trust",
    ),
    GoldPair(
        CONNECTION,
        "Part of this involves understanding the ways in which the two roles intersect.",
        "Innovation",
        False,
        "no new ideas",
    ),
    GoldPair(
        SYNERGY,
        "Managers become advocates for learning and development, driving initiatives that "
        "enhance both individual and organizational capabilities.",
        "Leader",
        False,
        "about managers, not leaders",
    ),
)
