"""The social side's versioned steward tables — the DAC's local resources and the stewards'
FINESS match decisions — with the same contract tests on both back-ends (CSV files in embedded
mode, the real PostgreSQL in server mode: ``steward_backend`` in conftest.py): versions and
journal, optimistic version check between two editors, role check inside the write, reasons
privacy-checked, nothing written on any refusal; decisions applied by the next import and shown
in its report."""

from __future__ import annotations

import csv
import threading

import pandas as pd
import pytest

from dac_map import settings, store
from dac_map.errors import ForbiddenError, InputFormatError
from dac_map.inclusion import dedup, steward
from dac_map.inclusion.importer import run_import, write_reports
from dac_map.inclusion.tables import ConflictError, norm
from dac_map.privacy import PersonalDataError
from dac_map.server import auth

DEMO_LOCAL = settings.DATA_DIR / "inclusion" / "DEMO-FICTIF_ressources_locales_80_46.csv"
COORDINATOR = auth.Principal("coord@dac.example", frozenset({auth.COORDINATOR}), frozenset({"DAC-80"}), signed_in=True)


def _raw_demo() -> list[dict]:
    with open(DEMO_LOCAL, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _content(rows) -> dict[str, tuple[str, ...]]:
    """id -> every column as text (lists joined with |): the comparable content of rows."""
    return {r["id"]: tuple(norm(r.get(c)) for c in steward.TABLE_COLUMNS) for r in rows}


def _seeded(steward_backend):
    open_table, principal, author, _ = steward_backend
    table = open_table(steward.LOCAL_RESOURCES)
    actions = steward.save_rows(table, table.snapshot(), _raw_demo(), principal, author=author, comment="import")
    return table, principal, author, actions


def test_save_read_and_journal(steward_backend):
    table, principal, author, actions = _seeded(steward_backend)
    raw = _raw_demo()
    assert actions == [f"ajout {r['id']}" for r in raw]
    snap = table.snapshot()
    assert _content(snap.rows) == _content(raw) and [r["id"] for r in snap.rows] == [r["id"] for r in raw]
    who = author or principal.subject
    assert {v[0] for v in snap.updated.values()} == {who}
    # an import reads the same validated resources from either back-end as from the raw file
    seeded = steward.current_table(getattr(table, "path", None) or table.url)
    from_file = steward.read_table(DEMO_LOCAL)
    assert seeded.services == from_file.services and seeded.structures == from_file.structures
    assert seeded.report.counts == from_file.report.counts
    rows = [dict(r) for r in snap.rows]
    rows[0]["nom"] = "Groupe de parole (nouvel horaire, EXEMPLE FICTIF)"
    rows[1]["telephone"] = "0322000001"
    new = {**rows[2], "id": "demo-80-nouveau", "nom": "=1+1 nouvelle ressource"}
    deleted = rows[-1]["id"]
    actions = steward.save_rows(table, snap, [*rows[:-1], new], principal, author=author, comment="mise à jour")
    assert actions == [f"modification {raw[0]['id']}", f"modification {raw[1]['id']}", "ajout demo-80-nouveau",
                       f"suppression {deleted}"]
    after = table.snapshot()
    assert after.tokens[raw[0]["id"]] != snap.tokens[raw[0]["id"]]
    assert after.tokens[raw[3]["id"]] == snap.tokens[raw[3]["id"]]  # untouched rows keep their version
    assert deleted not in after.tokens
    assert next(r for r in after.rows if r["id"] == "demo-80-nouveau")["nom"] == "=1+1 nouvelle ressource"
    journal = table.history()
    assert [(j["auteur"], j["action"], j["id"]) for j in journal[-4:]] == [
        (who, "modification", raw[0]["id"]), (who, "modification", raw[1]["id"]),
        (who, "ajout", "demo-80-nouveau"), (who, "suppression", deleted)]
    assert journal[-4]["champs"] == "nom" and journal[-3]["champs"] == "telephone"
    assert journal[-1]["commentaire"] == "mise à jour" and journal[-1]["horodatage_utc"].endswith("Z")
    assert steward.save_rows(table, after, list(after.rows), principal, author=author) == []  # nothing changed
    # an import reads the same resources from either back-end
    lt = steward.current_table(getattr(table, "path", None) or table.url)
    assert {s["id"] for s in lt.services} == {r["id"] for r in after.rows}


def test_two_editors_conflict_and_nothing_is_lost(steward_backend):
    table, principal, author, _ = _seeded(steward_backend)
    seen_by_a = table.snapshot()
    seen_by_b = table.snapshot()
    rows_a = [dict(r) for r in seen_by_a.rows]
    rows_a[0]["nom"] = "Modifié par A (EXEMPLE FICTIF)"
    steward.save_rows(table, seen_by_a, rows_a, principal, author=author, comment="A")
    after_a = table.snapshot()
    # B changed the same resource from the old version: refused, names it, writes nothing
    rows_b = [dict(r) for r in seen_by_b.rows]
    rows_b[0]["nom"] = "Modifié par B (EXEMPLE FICTIF)"
    rows_b[2]["nom"] = "Autre changement de B (EXEMPLE FICTIF)"
    with pytest.raises(ConflictError) as exc:
        steward.save_rows(table, seen_by_b, rows_b, principal, author=author, comment="B")
    assert exc.value.keys == (rows_b[0]["id"],)
    assert _content(table.snapshot().rows) == _content(after_a.rows)
    # B deleting it is refused too; B adding an id A added meanwhile as well
    with pytest.raises(ConflictError):
        steward.save_rows(table, seen_by_b, list(seen_by_b.rows)[1:], principal, author=author)
    steward.save_rows(table, after_a, [*after_a.rows, {**after_a.rows[1], "id": "ajout-a"}], principal, author=author)
    with pytest.raises(ConflictError):
        steward.save_rows(table, after_a, [*after_a.rows, {**after_a.rows[1], "id": "ajout-a"}], principal,
                          author=author)
    # B's change of ANOTHER resource, from the old version, goes through and keeps A's change
    rows_b = [dict(r) for r in seen_by_b.rows]
    rows_b[2]["nom"] = "Autre changement de B (EXEMPLE FICTIF)"
    assert steward.save_rows(table, seen_by_b, rows_b, principal, author=author) == [f"modification {rows_b[2]['id']}"]
    final = {r["id"]: r["nom"] for r in table.snapshot().rows}
    assert final[rows_a[0]["id"]] == "Modifié par A (EXEMPLE FICTIF)"
    assert final[rows_b[2]["id"]] == "Autre changement de B (EXEMPLE FICTIF)" and "ajout-a" in final


def test_concurrent_writers_one_wins_per_resource(steward_backend):
    """Eight threads save the same resource from the same read, eight others each a different
    new one: exactly one of the first group wins, all of the second group do."""
    table, principal, author, _ = _seeded(steward_backend)
    base = table.snapshot()
    outcomes: list[str] = []
    lock = threading.Lock()

    def edit(i: int, same: bool) -> None:
        rows = [dict(r) for r in base.rows]
        if same:
            rows[0]["nom"] = f"Version {i} (EXEMPLE FICTIF)"
        else:
            rows.append({**rows[1], "id": f"nouvelle-{i}"})
        try:
            steward.save_rows(table, base, rows, principal, author=author, comment=f"fil {i}")
            result = "ok"
        except ConflictError:
            result = "conflict"
        with lock:
            outcomes.append(("same" if same else "new", result))

    threads = [threading.Thread(target=edit, args=(i, i < 8)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    same = [r for k, r in outcomes if k == "same"]
    assert same.count("ok") == 1 and same.count("conflict") == 7
    # the additions started from the same read: each conflicts only if the winner of the
    # "same" group changed... nothing they touch, so every addition succeeds
    assert [r for k, r in outcomes if k == "new"] == ["ok"] * 8
    ids = {r["id"] for r in table.snapshot().rows}
    assert {f"nouvelle-{i}" for i in range(8, 16)} <= ids
    assert len(table.history()) == len(_raw_demo()) + 1 + 8


@pytest.mark.parametrize(  # a blank typed author: only embedded mode has one (server mode: the account)
    ("steward_backend", "case"),
    [(b, c) for b in ("csv", "postgresql") for c in ("role", "privacy", "invalid", "duplicate")]
    + [("csv", "author")], indirect=["steward_backend"])
def test_refusals_write_nothing(steward_backend, case):
    table, principal, author, _ = _seeded(steward_backend)
    snap = table.snapshot()
    history = table.history()
    rows = [dict(r) for r in snap.rows]
    rows[0]["nom"] = "Autre nom (EXEMPLE FICTIF)"
    kwargs = {"author": author, "comment": "ok"}
    who = principal
    expected: type[Exception] = InputFormatError
    if case == "role":
        who, expected = COORDINATOR, ForbiddenError
    elif case == "privacy":
        kwargs["comment"], expected = "suite à l'appel de Mme Martine Dupont née le 12/03/1941", PersonalDataError
    elif case == "invalid":
        rows.append({**rows[0], "id": "x", "description": ""})
    elif case == "duplicate":
        rows.append(rows[1])
    elif case == "author":
        assert principal is auth.LOCAL
        kwargs["author"] = " "
    with pytest.raises(expected) as exc:
        steward.save_rows(table, snap, rows, who, **kwargs)
    if case == "invalid":
        assert exc.value.line == len(rows) + 1 and exc.value.field == "description"
    if case == "privacy":
        assert "motif" in str(exc.value)
    assert table.snapshot() == snap and table.history() == history


@pytest.mark.parametrize("steward_backend", ["postgresql"], indirect=True)  # the audit log is server mode's
def test_server_mode_audit_and_author(steward_backend):
    open_table, principal, author, url = steward_backend
    assert url is not None
    from dac_map.server import audit

    table = open_table(steward.LOCAL_RESOURCES)
    steward.save_rows(table, table.snapshot(), _raw_demo(), principal, author="Nom tapé", comment="motif secret")
    entries = audit.entries(url)
    row = entries[entries["action"] == "ressources_locales.save"].iloc[0]
    assert row["actor"] == principal.subject and row["details"]["ajout"] == len(_raw_demo())
    assert "motif secret" not in str(entries.to_dict("records"))  # never a comment in the audit
    assert {j["auteur"] for j in table.history()} == {principal.subject}  # a typed name is not trusted


# --------------------------------------------------------------------------- match decisions

def test_decisions_contract_and_applied_by_the_next_import(steward_backend, duplicate_store, tmp_path):
    open_table, principal, author, _ = steward_backend
    store_path, local, proposed, other = duplicate_store
    decisions = open_table(dedup.MATCH_DECISIONS)
    first = run_import([], store=store_path, local_table=local, overrides=dedup.current_overrides(decisions.location
                       if decisions.location.endswith(".csv") else decisions.url))
    assert ("local:copie-finess", proposed, "lié") in {(m.resource_id, m.finess, m.decision) for m in first.matches}
    base = decisions.snapshot()
    rows = [{"resource_id": "local:copie-finess", "finess": proposed, "decision": "separer",
             "motif": "homonyme : antenne distincte"},
            {"resource_id": "local:demo-80-alz", "finess": other, "decision": "LIER", "motif": "même association"}]
    assert dedup.save_decisions(decisions, base, rows, principal, author=author) == [
        f"ajout local:copie-finess|{proposed}", f"ajout local:demo-80-alz|{other}"]
    snap = decisions.snapshot()
    assert [r["decision"] for r in snap.rows] == ["separer", "lier"]
    # the next import applies them, its report shows them with who/when/why
    loc = decisions.location if decisions.location.endswith(".csv") else decisions.url
    result = run_import([], store=store_path, local_table=local, overrides=dedup.current_overrides(loc))
    got = {(m.resource_id, m.finess): (m.method, m.decision) for m in result.matches}
    assert got[("local:copie-finess", proposed)] == ("nom_adresse", "séparé (référent)")
    assert got[("local:demo-80-alz", other)] == ("manuel", "lié")
    assert any("Décisions du référent" in line and "2 appliquées" in line and "1 liens imposés" in line
               for line in result.lines())
    t = store.open_store(store_path).read_layer("ressources_sociales", read_geometry=False).set_index("resource_id")
    assert f"FINESS {other}" in t.loc["local:demo-80-alz", "sources_label"]
    assert "FINESS" not in t.loc["local:copie-finess", "sources_label"]
    report = write_reports(result, tmp_path / "rapports")["correspondances"]
    with open(report, encoding="utf-8-sig", newline="") as f:
        lines = {(r["ressource"], r["finess"]): r for r in csv.DictReader(f, delimiter=";")}
    sep = lines[("local:copie-finess", proposed)]
    assert sep["decision"] == "séparé (référent)" and sep["motif_referent"] == "homonyme : antenne distincte"
    assert sep["decide_par"] == (author or principal.subject) and sep["decide_le"].endswith("Z")
    # removing a decision gives the automatic decision back at the next import
    dedup.save_decisions(decisions, snap, [rows[1]], principal, author=author)
    again = run_import([], store=store_path, local_table=local, overrides=dedup.current_overrides(loc))
    assert ("local:copie-finess", proposed, "lié") in {(m.resource_id, m.finess, m.decision) for m in again.matches}


@pytest.mark.parametrize("row,field,error", [
    ({"resource_id": "local:x", "finess": "80000000", "decision": "lier", "motif": "m"}, "finess", InputFormatError),
    ({"resource_id": "local:x", "finess": "800000002", "decision": "fusionner", "motif": "m"}, "decision",
     InputFormatError),
    ({"resource_id": "local:x", "finess": "800000002", "decision": "lier", "motif": " "}, "motif", InputFormatError),
    ({"resource_id": "local:x", "finess": "800000002", "decision": "lier",
      "motif": "appel de M. Jean Martin, 06 12 34 56 78"}, "motif", PersonalDataError),
])
def test_bad_decisions_are_refused(steward_backend, row, field, error):
    open_table, principal, author, _ = steward_backend
    decisions = open_table(dedup.MATCH_DECISIONS)
    ok = {"resource_id": "local:y", "finess": "800000002", "decision": "separer", "motif": "homonyme"}
    dedup.save_decisions(decisions, decisions.snapshot(), [ok], principal, author=author)
    snap = decisions.snapshot()
    with pytest.raises(error) as exc:
        dedup.save_decisions(decisions, snap, [ok, row], principal, author=author)
    assert exc.value.field == field
    if error is InputFormatError:
        assert exc.value.line == 3
    assert decisions.snapshot() == snap
    with pytest.raises(ForbiddenError):
        dedup.save_decisions(decisions, snap, [], COORDINATOR)


def test_old_decision_files_still_read(tmp_path):
    """A decisions CSV of the earlier layout (no motif column) is still applied; a bad line is
    refused with file, line and field."""
    path = tmp_path / "correspondances.csv"
    path.write_text("resource_id;finess;decision\ndi:c;800000002;separer\ndi:x;460000003;lier\n", encoding="utf-8")
    o = dedup.current_overrides(path)
    assert o.decisions == {("di:c", "800000002"): "separer", ("di:x", "460000003"): "lier"}
    path.write_text("resource_id;finess;decision\ndi:c;800000002;peut-etre\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"line 2, field 'decision'"):
        dedup.current_overrides(path)


def test_decision_table_lists_both_sides(duplicate_store):
    from dac_map.inclusion.tables import Snapshot

    store_path, local, proposed, _ = duplicate_store
    run_import([], store=store_path, local_table=local, overrides=None)
    st = store.open_store(store_path)
    est = st.read_layer(store.ESTABLISHMENTS, read_geometry=False).set_index("finess")
    snap = Snapshot(({"resource_id": "local:copie-finess", "finess": proposed, "decision": "separer", "motif": "m"},),
                    {}, {f"local:copie-finess|{proposed}": ("Référente A", "2026-12-01T10:00:00Z")})
    table = dedup.decision_table(st, snap)
    row = table[(table["resource_id"] == "local:copie-finess") & (table["finess"] == proposed)].iloc[0]
    assert row["establishment_name"] == est.loc[proposed, "name"]
    assert row["establishment_address"].startswith(str(est.loc[proposed, "address"]))
    assert row["method_label"] == "nom et adresse proches" and row["decision"] == "lié"
    assert row["steward_decision"] == "separer" and row["decided_by"] == "Référente A"
    assert row["resource_name"] and pd.notna(row["name_score"])


def test_plan_then_commit_reaches_the_edited_rows(tmp_path_factory):
    """Property: whatever the edit (rows added, removed, changed, reordered, texts with ; " | =
    and new lines), committing :func:`plan`'s changes makes the stored table hold exactly the
    edited rows — nothing lost, nothing extra — and a second plan finds nothing to do."""
    from hypothesis import given, settings as hsettings, strategies as st

    from dac_map.inclusion.tables import CsvTable, TableSpec, plan

    def read(path):
        with open(path, encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f, delimiter=";")), []

    spec = TableSpec("t", ("id", "a", "b"), ("id",), "matches.write", read, lambda: tmp_path_factory.mktemp("x") / "t.csv")
    text = st.text(alphabet="ab;\"|= é\n", max_size=6).map(lambda s: s.strip())
    row = st.fixed_dictionaries({"a": text, "b": text})
    tables = st.dictionaries(st.sampled_from([f"k{i}" for i in range(8)]), row, max_size=6)

    @hsettings(max_examples=40, deadline=None)
    @given(tables, tables)
    def check(before: dict, after: dict) -> None:
        table = CsvTable(spec, tmp_path_factory.mktemp("plan") / "t.csv")
        table.commit(plan(spec, table.snapshot(), [{"id": k, **v} for k, v in before.items()]), auth.LOCAL,
                     author="A")
        table.commit(plan(spec, table.snapshot(), [{"id": k, **v} for k, v in after.items()]), auth.LOCAL,
                     author="B")
        got = {r["id"]: (norm(r.get("a")), norm(r.get("b"))) for r in table.snapshot().rows}
        assert got == {k: (norm(v["a"]), norm(v["b"])) for k, v in after.items()}
        assert plan(spec, table.snapshot(), [{"id": k, **v} for k, v in after.items()]) == []

    check()
