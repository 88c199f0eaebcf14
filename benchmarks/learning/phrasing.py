"""How tasks are worded: templates per family, synonyms inside them, slot values, all drawn from a seeded RNG.

``[a|b|c]`` in a template is a synonym choice, ``{slot}`` a value (a name, an order number, a
service). Each family has stream templates and two held-out ones that only the retrieval
test uses, so precision@k is measured on wordings the memory never saw. Families share
words on purpose (order, account, customer, service), so the nearest memory is not always
of the same family.
"""

from __future__ import annotations

import random
import re

__all__ = ["HELD_OUT", "TEMPLATES", "phrase"]

_SLOTS: dict[str, tuple[str, ...]] = {
    "name": ("Dana Reyes", "Omar Haddad", "Li Wei", "Priya Nair", "Tom Becker", "Ana Souza", "Kofi Mensah", "Mia Novak"),
    "order": ("#48213", "#50977", "#31420", "#77105", "#66018", "#12894", "#90311", "#45562"),
    "product": ("headphones", "coffee grinder", "desk lamp", "backpack", "monitor", "keyboard", "blender", "tent"),
    "service": ("checkout-api", "auth-gateway", "search", "billing-worker", "media-proxy", "orders-db", "notifier"),
    "region": ("eu-west", "us-east", "ap-south", "sa-east"),
    "amount": ("$19.99", "$240", "$75.50", "$1,120", "$8"),
    "when": ("this morning", "yesterday", "since 3 am", "for two days", "an hour ago"),
    "please": ("please", "can you", "could you", "kindly", "we need you to", "I'd like you to"),
    "customer": ("customer", "client", "user", "account holder"),
}

# Per family: stream templates, then (after "|held-out|") two held-out ones.
_RAW: dict[str, tuple[str, ...]] = {
    "double_charge": (
        "{customer} {name} was [charged|billed] twice for order {order}, {please} [refund|reimburse] the duplicate",
        "[duplicate|double] [charge|payment] of {amount} on order {order}; {please} give the money back",
        "{name} sees two identical [charges|transactions] for {order} and wants a refund",
        "refund request: order {order} [billed|charged] two times ({amount} each)",
        "[my card|the card] was charged twice for the {product}, order {order}",
        "|held-out|",
        "{please} reverse the second {amount} payment that hit {name}'s card for {order}",
        "billing error: the {product} purchase went through twice, {customer} asks for reimbursement",
    ),
    "password_reset": (
        "{name} [cannot|can't] log in and [forgot|lost] the password",
        "{please} reset the password for {customer} {name}",
        "locked out: {customer} forgot their password {when}",
        "password reset [needed|required] for {name}, the sign-in link expired",
        "[I forgot|forgot] my password and cannot sign in to my account",
        "|held-out|",
        "{name} needs new login credentials, the old password is not accepted",
        "help {customer} {name} regain access: password no longer remembered",
    ),
    "late_delivery": (
        "order {order} has not [arrived|been delivered] yet, where is the {product}",
        "{name}'s package is [late|delayed] {when}, order {order}",
        "[tracking|shipment] for {order} has not moved {when}",
        "the {product} ([order|shipment] {order}) is overdue, {please} check the delivery",
        "{customer} is still waiting for the parcel from order {order}",
        "|held-out|",
        "delivery of {name}'s {product} is way past the promised date",
        "parcel {order} seems stuck in transit, the {customer} wants an update",
    ),
    "service_outage": (
        "{service} is down in {region}, users get [errors|500s]",
        "[outage|incident]: {service} [not responding|unreachable] {when}",
        "{please} bring {service} back up, it [crashed|fell over] in {region}",
        "[alert|page]: {service} error rate [spiked|jumped] in {region}",
        "customers in {region} cannot reach {service}",
        "|held-out|",
        "{service} stopped serving requests {when} and returns failures",
        "p1 incident: {service} unavailable for {region} traffic",
    ),
    "disk_full": (
        "[disk|volume] full on the {service} host, writes are failing",
        "{service} ran out of disk space {when}",
        "no space left on device for {service} in {region}",
        "[storage|disk] usage on {service} is at 100 percent, {please} free some",
        "[alert|page]: {service} disk almost full",
        "|held-out|",
        "{service} machines cannot write logs any more, the filesystem is exhausted",
        "free up capacity on the {service} node, its partition is saturated",
    ),
    "address_change": (
        "{name} moved and wants to [update|change] the [shipping|delivery] address",
        "{please} change the address on {customer} {name}'s account",
        "new [home|postal] address for {name}, update the account",
        "[update|correct] the address for account of {name} before order {order} ships",
        "{customer} asks us to change where we send their orders",
        "|held-out|",
        "{name} relocated and the profile still has the old street",
        "account details are outdated: {customer} {name} lives somewhere else now",
    ),
    "leaked_key": (
        "an api key for {service} was [leaked|exposed] on a public repo",
        "[security|urgent]: {service} credentials [committed|pushed] to github {when}",
        "{please} [revoke|rotate] the leaked {service} key",
        "someone posted our {service} [secret|token] in a forum",
        "[compromised|exposed] key for {service}, {please} act now",
        "|held-out|",
        "the {service} token showed up in a paste site, treat as compromised",
        "credential exposure: {service} secret visible to the public",
    ),
    "cancel_plan": (
        "{name} wants to cancel the subscription",
        "{please} [cancel|end] the plan for {customer} {name}",
        "[stop|terminate] my [subscription|membership], I no longer need it",
        "{customer} {name} asks to [unsubscribe|cancel] at the end of the term",
        "cancellation request from {name} for the monthly plan",
        "|held-out|",
        "{name} does not want to be billed any more and asks to leave the plan",
        "close out the recurring membership of {customer} {name}",
    ),
    "damaged_item": (
        "the {product} from order {order} arrived [broken|damaged]",
        "{name} received a [cracked|smashed] {product}, order {order}",
        "item damaged in shipping: {product} ({order}), {please} send a new one",
        "[broken|defective] {product} delivered {when}, {customer} wants a replacement",
        "order {order} came with a damaged box and a broken {product}",
        "|held-out|",
        "{name}'s {product} was unusable on arrival and needs replacing",
        "the parcel for {order} contained a {product} in pieces",
    ),
    "slow_api": (
        "{service} is [slow|sluggish], latency [is high|went up] in {region}",
        "p99 latency of {service} [doubled|tripled] {when}",
        "{please} look at {service} response times, they are [terrible|very slow]",
        "[timeouts|slow responses] from {service} under load in {region}",
        "{service} takes seconds to answer since the traffic grew",
        "|held-out|",
        "requests to {service} crawl and clients hit their deadlines",
        "performance of {service} degraded badly for {region} users",
    ),
    "invoice_dispute": (
        "{name} disputes the invoice for order {order}, [overcharged|billed too much] by {amount}",
        "the invoice is wrong: {customer} was billed {amount} extra",
        "{please} [check|review] invoice {order}, {name} says the amount is incorrect",
        "[billing dispute|invoice complaint] from {name} about {amount}",
        "{customer} contests a line item of {amount} on the latest invoice",
        "|held-out|",
        "{name} thinks the bill for {order} includes charges that should not be there",
        "an invoice amount of {amount} is challenged by the {customer}",
    ),
    "data_export": (
        "{name} wants a [copy|export] of all their data",
        "{please} send {customer} {name} their personal data",
        "[gdpr|data access] request from {name}",
        "[export|download] of account data requested by {customer} {name}",
        "{name} asks what data we hold about them and wants a file",
        "|held-out|",
        "subject access request: {name} needs everything we store on them",
        "provide {customer} {name} with an archive of their records",
    ),
    "login_loop": (
        "{name} is stuck in a login loop, the page keeps [redirecting|reloading]",
        "after signing in {customer} is [sent back|bounced] to the login page",
        "[sign-in|login] keeps looping for {name} {when}",
        "{please} fix the [redirect|login] loop on {customer} {name}'s account",
        "{name} logs in successfully but is immediately logged out again",
        "|held-out|",
        "{customer} {name} can never stay signed in, it cycles back to the start",
        "authentication succeeds yet {name} lands on the sign-in screen each time",
    ),
}


def _split(raw: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cut = raw.index("|held-out|")
    return raw[:cut], raw[cut + 1 :]


TEMPLATES: dict[str, tuple[str, ...]] = {name: _split(raw)[0] for name, raw in _RAW.items()}
HELD_OUT: dict[str, tuple[str, ...]] = {name: _split(raw)[1] for name, raw in _RAW.items()}

_CHOICE = re.compile(r"\[([^\]]+)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def phrase(template: str, rng: random.Random) -> str:
    """One wording of *template*: each synonym choice and slot drawn from *rng*."""
    text = _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    text = _SLOT.sub(lambda m: rng.choice(_SLOTS[m.group(1)]), text)
    return text[0].upper() + text[1:]
