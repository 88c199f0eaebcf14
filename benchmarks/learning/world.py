"""The task world: support and operations tools, task families with their recipes, and one task's environment.

A family is a kind of ticket (a double charge, an outage, a leaked key...). Solving any task of
a family takes the same *recipe*: the right tools, in the right order, each with the right
argument. What worked on one task of a family therefore works on every other; what differs
between tasks is only their wording (:mod:`learning.phrasing`). The environment answers each
tool call the way a real backend would. A read (lookups, checks) is accepted, or refused as
"invalid argument" (right tool, wrong mode), "precondition failed" (too early) or "not
applicable". An action (refund, restart, rotate a key...) that the ticket does not need is
refused too; but the right action with a wrong argument, or before its preconditions, is
irreversible: the ticket fails.

Two families have a *trap*: a second argument for their last tool that the backend accepts
(the ticket looks resolved) but that is wrong; the environment reveals the true verdict only
some tasks later, like a customer's complaint an hour after the answer (the feedback path of
issue 15). Four families appear only late in the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ACTIONS", "FAMILIES", "TOOLS", "Call", "Environment", "Family", "Reply", "plan_text"]

#: Every tool the agent has, with the argument modes it takes (the first is not always right).
TOOLS: dict[str, tuple[str, ...]] = {
    "lookup_customer": ("email", "phone", "account_id"),
    "lookup_order": ("order_id", "invoice", "tracking"),
    "verify_identity": ("sms_code", "security_question", "id_document"),
    "reset_password": ("email_link", "temporary_password", "admin_override"),
    "issue_refund": ("original_payment", "store_credit", "bank_transfer"),
    "check_carrier": ("tracking", "depot", "driver"),
    "send_message": ("email", "sms", "chat"),
    "check_status": ("region", "dependency", "global"),
    "check_logs": ("errors", "access", "auth"),
    "restart_service": ("pod", "node", "cluster"),
    "check_metrics": ("disk", "latency", "memory"),
    "clear_cache": ("temp_files", "sessions", "cdn"),
    "update_record": ("address", "email", "plan"),
    "rotate_key": ("api_key", "ssh_key", "tls_cert"),
    "escalate_ticket": ("security", "billing", "engineering"),
    "cancel_subscription": ("end_of_term", "immediate", "downgrade"),
    "check_inventory": ("warehouse", "supplier", "store"),
    "ship_replacement": ("express", "standard", "pickup"),
    "scale_service": ("horizontal", "vertical", "autoscale"),
    "apply_credit": ("partial", "full", "next_invoice"),
    "export_data": ("csv", "json", "pdf"),
}

#: One tool call: (tool, argument).
Call = tuple[str, str]


#: Tools that change something. Called with a wrong argument, or before its turn in the recipe,
#: an action is irreversible and the ticket fails; reads are simply refused.
ACTIONS = frozenset(
    {
        "reset_password", "issue_refund", "send_message", "restart_service", "clear_cache", "update_record", "rotate_key",
        "escalate_ticket", "cancel_subscription", "ship_replacement", "scale_service", "apply_credit", "export_data",
    }
)  # fmt: skip


def plan_text(plan: tuple[Call, ...]) -> str:
    """A plan as the agent writes it into a lesson: ``lookup_customer(email) -> issue_refund(original_payment)``."""
    return " -> ".join(f"{tool}({arg})" for tool, arg in plan)


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    recipe: tuple[Call, ...]
    #: Where in the stream (a fraction of its length) the family first appears.
    first_at: float = 0.0
    #: An argument of the last tool that the backend accepts but that is wrong (revealed later).
    trap_arg: str | None = None

    def __post_init__(self) -> None:
        for tool, arg in self.recipe:
            if arg not in TOOLS[tool]:
                raise ValueError(f"{self.name}: {tool} takes {TOOLS[tool]}, not {arg!r}")
        if self.trap_arg is not None and self.trap_arg not in TOOLS[self.recipe[-1][0]]:
            raise ValueError(f"{self.name}: bad trap argument {self.trap_arg!r}")


FAMILIES: tuple[Family, ...] = (
    Family("double_charge", (("lookup_customer", "email"), ("lookup_order", "order_id"), ("issue_refund", "original_payment"))),
    Family("password_reset", (("lookup_customer", "email"), ("verify_identity", "sms_code"), ("reset_password", "email_link"))),
    Family("late_delivery", (("lookup_order", "tracking"), ("check_carrier", "depot"), ("send_message", "email"))),
    Family("service_outage", (("check_status", "region"), ("check_logs", "errors"), ("restart_service", "pod"))),
    Family("disk_full", (("check_metrics", "disk"), ("clear_cache", "temp_files"), ("send_message", "chat"))),
    Family(
        "address_change",
        (("lookup_customer", "account_id"), ("verify_identity", "security_question"), ("update_record", "address")),
    ),
    Family("leaked_key", (("rotate_key", "api_key"), ("check_logs", "access"), ("escalate_ticket", "security"))),
    Family("cancel_plan", (("lookup_customer", "account_id"), ("cancel_subscription", "end_of_term"), ("send_message", "email"))),
    Family(
        "damaged_item",
        (("lookup_order", "order_id"), ("check_inventory", "warehouse"), ("ship_replacement", "express")),
        trap_arg="standard",
    ),
    Family(
        "slow_api",
        (("check_metrics", "latency"), ("scale_service", "horizontal"), ("check_status", "dependency")),
        first_at=0.4,
    ),
    Family(
        "invoice_dispute",
        (("lookup_customer", "account_id"), ("lookup_order", "invoice"), ("apply_credit", "partial")),
        first_at=0.4,
        trap_arg="full",
    ),
    Family("data_export", (("lookup_customer", "phone"), ("export_data", "csv"), ("send_message", "email")), first_at=0.6),
    Family("login_loop", (("check_logs", "auth"), ("clear_cache", "sessions"), ("send_message", "sms")), first_at=0.6),
)


@dataclass(frozen=True, slots=True)
class Reply:
    ok: bool
    message: str
    #: The ticket is (or looks) resolved: the agent stops.
    resolved: bool = False


@dataclass(slots=True)
class Environment:
    """One task's backend: it knows the family's recipe and how far the agent has got."""

    family: Family
    progress: int = 0
    trapped: bool = False
    #: An irreversible mistake ended the ticket.
    broken: bool = False
    calls: list[Call] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return self.progress == len(self.family.recipe)

    @property
    def truly_solved(self) -> bool:
        """The verdict the environment knows: resolved, and not through the trap."""
        return self.resolved and not self.trapped

    def call(self, tool: str, arg: str) -> Reply:
        if tool not in TOOLS:
            raise ValueError(f"no such tool {tool!r}")
        self.calls.append((tool, arg))
        recipe = self.family.recipe
        if self.resolved or self.broken:
            return Reply(False, "ticket already closed")
        want_tool, want_arg = recipe[self.progress]
        action = tool in ACTIONS
        if tool == want_tool:
            last = self.progress == len(recipe) - 1
            if arg == want_arg or (last and arg == self.family.trap_arg):
                self.trapped = arg != want_arg
                self.progress += 1
                return Reply(True, "resolved" if self.resolved else "ok", resolved=self.resolved)
            if action:
                self.broken = True
                return Reply(False, f"irreversible: {tool}({arg}) was the wrong action, ticket failed")
            return Reply(False, f"invalid argument {arg!r} for {tool}")
        if any(t == tool for t, _ in recipe[self.progress + 1 :]):
            if action:
                self.broken = True
                return Reply(False, f"irreversible: {tool} before its preconditions, ticket failed")
            return Reply(False, f"precondition failed: {tool} is not possible yet")
        return Reply(False, f"{tool} is not applicable to this ticket")
