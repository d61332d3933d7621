"""The migration that makes a void invoice owe nothing recomputes every stored balance."""

from datetime import date

from tests.factories import make_client
from tests.invoicing.test_range_migration import latest, migrate

BEFORE = [("invoicing", "0005_invoice_client_balance_index")]


def test_void_invoices_owe_nothing_and_the_others_keep_their_balance(tx_db):
    acme = make_client("acme-void-balance")
    old = migrate(BEFORE)
    try:
        Invoice = old.get_model("invoicing", "Invoice")

        def invoice(status, number, total, allocated=0, credited=0):
            return Invoice.objects.create(
                client_id=acme.pk,
                status=status,
                number=number,
                currency="USD",
                period_start=date(2026, 1, 1),
                period_end=date(2026, 1, 31),
                total_minor=total,
                allocated_minor=allocated,
                credited_minor=credited,
            ).pk

        ids = {
            "open": invoice("open", 9001, 5_000, allocated=1_200, credited=300),
            "paid": invoice("paid", 9002, 2_000, allocated=2_000),
            "void": invoice("void", 9003, 7_500),
            "voided draft": invoice("void", None, 640),
            "draft": invoice("draft", None, 990),
        }
        before = dict(Invoice.objects.values_list("pk", "balance_minor"))
        assert before[ids["void"]] == 7_500  # what the portal used to sum and sort
    finally:
        migrate(latest())
    from tally.invoicing.models import Invoice as Current

    after = dict(Current.objects.values_list("pk", "balance_minor"))
    assert {name: after[pk] for name, pk in ids.items()} == {
        "open": 3_500,
        "paid": 0,
        "void": 0,
        "voided draft": 0,
        "draft": 990,
    }
    assert Current.objects.filter(balance_minor=0, client_id=acme.pk).count() == 3  # indexed
