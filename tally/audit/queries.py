"""Reading and verifying the audit trail."""

from dataclasses import dataclass

from .models import AuditEvent, AuditHead
from .services import GENESIS, chain_hash


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    problem: str = ""


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order; name the first row that was edited, deleted or inserted."""
    prev_hash, expected_id, checked, last_id = GENESIS, 1, 0, 0
    after_id = 0
    while True:
        rows = list(
            AuditEvent.objects.filter(id__gt=after_id)
            .order_by("id")[:batch_size]
            .values_list(
                "id",
                "occurred_at",
                "actor_id",
                "actor_label",
                "action",
                "object_type",
                "object_id",
                "client_id",
                "data",
                "prev_hash",
                "hash",
            )
        )
        if not rows:
            break
        for (
            eid,
            occurred,
            actor_id,
            actor_label,
            action,
            otype,
            oid,
            client_id,
            data,
            stored_prev,
            stored_hash,
        ) in rows:
            if eid != expected_id:
                return ChainReport(False, checked, expected_id, f"row {expected_id} is missing")
            if stored_prev != prev_hash:
                return ChainReport(False, checked, eid, f"row {eid} does not follow row {eid - 1}")
            digest = chain_hash(
                prev_hash,
                eid,
                occurred.isoformat(),
                actor_id,
                actor_label,
                action,
                otype,
                oid,
                client_id,
                data,
            )
            if digest != stored_hash:
                return ChainReport(
                    False, checked, eid, f"row {eid} was changed after it was written"
                )
            prev_hash, expected_id, checked, last_id = stored_hash, eid + 1, checked + 1, eid
        after_id = rows[-1][0]
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and (head.last_event_id != last_id or head.last_hash != prev_hash):
        return ChainReport(
            False,
            checked,
            last_id + 1,
            f"the chain ends at row {last_id} but row {head.last_event_id} was written",
        )
    return ChainReport(True, checked)
