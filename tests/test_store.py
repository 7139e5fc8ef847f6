"""The store contract, held by both implementations; the migrations against the table definitions; the audit
chain against tampering."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from detectors.errors import BadInput
from service.store import (
    Delivery,
    Exemption,
    MemoryStore,
    ResultRecord,
    SqlStore,
    Store,
    new_id,
    stamp,
    verify_audit,
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    s: Store = MemoryStore() if request.param == "memory" else SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    yield s
    s.close()


def rec(decision: str = "review", created_at: str | None = None, by: str = "k1") -> ResultRecord:
    return ResultRecord(id=new_id("r"), created_at=created_at or stamp(), decision=decision, score=0.7,
                        verdict={"decision": decision, "findings": [], "evidence": [], "model_versions": {"a": "1"}},
                        post_id="p", submitted_by=by, caption="ক caption ✓", image_sha256=("ab" * 32,))


def test_results_round_trip_filter_and_page(store: Store) -> None:
    a = rec("review", "2026-01-01T00:00:00.000000Z")
    b = rec("violation", "2026-02-01T00:00:00.000000Z")
    c = rec("clear", "2026-03-01T00:00:00.000000Z")
    for r in (a, b, c):
        store.save_result(r)
    assert store.get_result(a.id) == a
    assert store.get_result("r_missing") is None
    assert [r.id for r in store.list_results()] == [c.id, b.id, a.id]
    assert [r.id for r in store.list_results(decision="violation")] == [b.id]
    assert [r.id for r in store.list_results(since="2026-02-01T00:00:00.000000Z")] == [c.id, b.id]
    assert [r.id for r in store.list_results(before=b.created_at, limit=5)] == [a.id]
    assert [r.id for r in store.list_results(limit=1)] == [c.id]
    with pytest.raises((BadInput, sa.exc.IntegrityError)):
        store.save_result(a)


def test_images_and_retention(store: Store) -> None:
    old, new = rec(created_at="2020-01-01T00:00:00.000000Z"), rec()
    for r in (old, new):
        store.save_result(r)
        store.save_image(r.id, 0, "evidence", b"png-bytes", "image/png")
    assert store.get_image(new.id, 0, "evidence") == (b"png-bytes", "image/png")
    assert store.get_image(new.id, 0, "original") is None
    images, results = store.purge(images_before="2021-01-01T00:00:00.000000Z", results_before=None)
    assert (images, results) == (1, 0)
    assert store.get_image(old.id, 0, "evidence") is None and store.get_result(old.id) is not None
    images, results = store.purge(images_before=None, results_before="2021-01-01T00:00:00.000000Z")
    assert results == 1 and store.get_result(old.id) is None and store.get_result(new.id) is not None


def test_keys_are_hashed_unique_and_revocable(store: Store) -> None:
    key, token = store.add_key("ops", "admin")
    assert token.startswith("as_") and len(token) > 40 and key.prefix == token[:10]
    assert store.key_for_token(token) == key
    assert store.key_for_token(token + "x") is None
    with pytest.raises(BadInput, match="exists"):
        store.add_key("ops", "screen")
    with pytest.raises(BadInput, match="role"):
        store.add_key("x", "superuser")  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="name"):
        store.add_key("bad name!", "screen")
    revoked = store.revoke_key("ops")
    assert revoked.revoked_at and not revoked.active
    assert store.key_for_token(token).active is False  # type: ignore[union-attr]
    assert [k.name for k in store.list_keys()] == ["ops"]
    if isinstance(store, SqlStore):  # the token itself is nowhere in the database
        with store.engine.connect() as conn:
            dump = repr(conn.execute(sa.text("select * from api_keys")).fetchall())
        assert token not in dump


def test_exemptions_webhooks_deliveries(store: Store) -> None:
    store.put_exemption(Exemption("fb:a", "official_account", "A", "ref", "2030-01-01", stamp(), "admin"))
    store.put_exemption(Exemption("fb:a", "permission", "A2", "", None, stamp(), "admin"))  # replaces
    assert store.get_exemption("fb:a").type == "permission"  # type: ignore[union-attr]
    assert [e.account_id for e in store.list_exemptions()] == ["fb:a"]
    assert store.remove_exemption("fb:a") and not store.remove_exemption("fb:a")
    hook = store.add_webhook("https://example.org/h", "s" * 20, ["result.violation"])
    assert store.list_webhooks() == [hook]
    d = Delivery("d1", hook.id, "result.violation", {"x": 1}, created_at=stamp(), updated_at=stamp())
    store.save_delivery(d)
    store.save_delivery(Delivery("d1", hook.id, "result.violation", {"x": 1}, "dead", 5, 500, "HTTP 500",
                                 d.created_at, stamp()))
    assert [x.status for x in store.list_deliveries()] == ["dead"]
    assert store.list_deliveries(status="pending") == []
    assert store.remove_webhook(hook.id) and store.list_webhooks() == []


def test_audit_chain_holds_and_concurrent_appends_do_not_fork(store: Store) -> None:
    def work(i: int) -> None:
        for j in range(10):
            store.audit(f"actor{i}", "decision.add", f"r_{i}_{j}", {"n": j})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = store.audit_entries()
    assert [e.seq for e in entries] == list(range(1, 41))
    assert verify_audit(store) is None
    assert [e.seq for e in store.audit_entries(after=38)] == [39, 40]


def test_tampering_with_the_audit_log_shows(tmp_path: Path) -> None:
    s = SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    for i in range(5):
        s.audit("admin", "key.add", f"k{i}", {"role": "screen"})
    with s.engine.begin() as conn:
        conn.execute(sa.text("update audit_log set detail = '{\"role\": \"admin\"}' where seq = 3"))
    assert verify_audit(s) == 3
    s2 = SqlStore(f"sqlite:///{tmp_path / 'b.db'}")
    for i in range(5):
        s2.audit("admin", "key.add", f"k{i}")
    with s2.engine.begin() as conn:
        conn.execute(sa.text("delete from audit_log where seq = 2"))
    assert verify_audit(s2) == 3


def test_sqlite_store_survives_reopening_and_runs_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'a.db'}"
    s = SqlStore(url)
    r = rec()
    s.save_result(r)
    s.close()
    s2 = SqlStore(url)
    assert s2.get_result(r.id) == r
    with s2.engine.connect() as conn:
        assert conn.execute(sa.text("pragma journal_mode")).scalar() == "wal"


def test_migrations_create_exactly_the_declared_tables(tmp_path: Path) -> None:
    from service import schema
    from service.migrations import current_revision

    s = SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    insp = sa.inspect(s.engine)
    assert current_revision(s.engine) is not None
    declared = {t.name: {c.name for c in t.columns} for t in schema.metadata.sorted_tables}
    migrated = {name: {c["name"] for c in insp.get_columns(name)} for name in insp.get_table_names()
                if name != "alembic_version"}
    assert migrated == declared


def test_a_bad_store_url_is_a_config_error(tmp_path: Path) -> None:
    from detectors.errors import ConfigError
    from service.store import open_store

    with pytest.raises(ConfigError, match="store URL"):
        open_store("notadb://x:secret@host/db", tmp_path)
