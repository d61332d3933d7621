"""The fast path of ingestion validation agrees with the full check on every row."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tally.operations.rows import validate as _validate

CLIENTS = {"acme": 1, "globex": 2, "7": 3}

texts = st.one_of(
    st.sampled_from(["", " ", "ORD-1", " padded ", "Zürich", "a\tb\nc", "x" * 129, "x" * 201]),
    st.text(max_size=12),
)
values = st.one_of(st.none(), st.integers(-3, 5), st.booleans(), st.floats(allow_nan=False), texts)
timestamps = st.one_of(
    st.sampled_from(
        [
            "2026-10-05T12:00:00Z",
            "2026-10-05T12:00:00z",
            "2026-10-05T12:00:00+02:00",
            " 2026-10-05T12:00:00Z ",
            "2026-10-05T12:00:00",
            "2026-10-05Z",
            "2026-10-05",
            "20261005T120000Z",
            "2026-10-05T12:00:00.250000-05:30",
            "yesterday",
        ]
    ),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.just(datetime(2026, 10, 5, 12, tzinfo=timezone(timedelta(hours=-7)))),
    values,
)
details = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", '{"sku": "A"}', "[1]", "{bad", '"text"', '{"w": NaN}']),
    st.dictionaries(st.text(max_size=4), st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
    st.lists(st.integers(), max_size=2),
)
rows = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "client": st.one_of(st.sampled_from(["acme", "globex", "nobody", "", 7]), st.none()),
            "kind": st.one_of(st.sampled_from(["pick", "label", " stop ", "teleport"]), values),
            "occurred_at": timestamps,
            "quantity": st.one_of(st.sampled_from(["2", " 3 ", "-1", "1.5", "٣"]), values),
            "reference": texts,
            "external_id": st.one_of(texts, st.integers(0, 3)),
            "source": st.one_of(st.sampled_from(["wms", " ", "s" * 65]), st.none()),
            "details": details,
        },
    ),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(rows=rows, default_client=st.sampled_from([None, 1, 2]), sqlite=st.booleans())
def test_the_fast_path_and_the_full_check_agree(rows, default_client, sqlite):
    def run(fast):
        parsed, problems = _validate(
            rows, CLIENTS, default_client, "api", stamp="now", sqlite=sqlite, fast=fast
        )
        return parsed, [(p.row, p.field, p.message) for p in problems]

    assert run(True) == run(False)


VALID = {
    "client": "acme",
    "kind": "pick",
    "occurred_at": "2026-10-05T12:00:00Z",
    "quantity": 2,
    "reference": "ORD-1",
    "external_id": "e-1",
    "details": {"sku": "A"},
}
fields = {
    "client": st.one_of(st.sampled_from(["acme", "globex", "nobody", "", 7]), st.none()),
    "kind": st.one_of(st.sampled_from(["pick", "label", " stop ", "teleport"]), values),
    "occurred_at": timestamps,
    "quantity": st.one_of(st.sampled_from(["2", " 3 ", "-1", "1.5", "٣"]), values),
    "reference": texts,
    "external_id": st.one_of(texts, st.integers(0, 3)),
    "source": st.one_of(st.sampled_from(["wms", " ", "s" * 65]), st.none()),
    "details": details,
}
nearly_valid = st.lists(
    st.builds(
        lambda changes, dropped: {
            k: v for k, v in {**VALID, **changes}.items() if k not in dropped
        },
        st.fixed_dictionaries({}, optional=fields),
        st.sets(st.sampled_from(sorted(VALID)), max_size=1),
    ),
    max_size=5,
)


@settings(max_examples=600, deadline=None)
@given(rows=nearly_valid, default_client=st.sampled_from([None, 1, 2]), sqlite=st.booleans())
def test_the_fast_path_and_the_full_check_agree_on_nearly_valid_rows(rows, default_client, sqlite):
    def run(fast):
        parsed, problems = _validate(
            rows, CLIENTS, default_client, "api", stamp="now", sqlite=sqlite, fast=fast
        )
        return parsed, [(p.row, p.field, p.message) for p in problems]

    assert run(True) == run(False)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.decimals(allow_nan=False),
        st.dates(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(), json_values, max_size=4))
def test_details_are_encoded_exactly_as_json_dumps_encodes_them(value):
    import json

    from tally.operations.rows import canonical_json

    encode = canonical_json
    try:
        expected = json.dumps(
            value, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False
        )
    except ValueError:  # NaN or Infinity: not JSON, refused alike
        with pytest.raises(ValueError):
            encode(value)
        return
    assert encode(value) == expected
    assert encode(value) == expected  # and again, with the same encoder
