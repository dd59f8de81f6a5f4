"""Reads dated publications and writes the derived rows: listings with spans, agreements, agencies, changes, pending applications."""
import datetime
import difflib
import hashlib

from .read import MODEL_CODES

RENAME_SIMILARITY = 0.8  # difflib ratio of normalised names for a same-day, same-model rename


def short_id(*parts):
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:12]


def listing_spans(members):
    """Each distinct printed row of one list stored once per unbroken run of publications that carried it."""
    listings, open_spans = [], {}
    previous = None
    for p in members:
        if previous is not None and p["rows"] == previous["rows"] and p["sheet_rows"] == previous["sheet_rows"]:
            # Re-published unchanged (rows are shared objects, so this compare is cheap): every span goes on.
            for span in open_spans.values():
                span.update(last_publication_id=p["id"], last_seq=p["seq"], last_seen=p["published_at"])
                span["publications"] += 1
            continue
        previous = p
        seen = {}
        current = {}
        for row, sheet_row in zip(p["rows"], p["sheet_rows"]):
            content = row["content"]
            n = seen[content] = seen.get(content, 0) + 1  # exact duplicate rows keep their multiplicity
            current[(content, n)] = (row, sheet_row)
        for key in list(open_spans):
            if key not in current:
                listings.append(open_spans.pop(key))
        for key, (row, sheet_row) in current.items():
            span = open_spans.get(key)
            if span is None:
                content, n = key
                open_spans[key] = span = {
                    "id": short_id(p["list"], *content, n, p["seq"]),
                    "list": p["list"],
                    **{k: row[k] for k in ("state", "agency", "level", "county", "support_type", "signed", "signed_on", "moa", "moa_url", "addendum", "addendum_url")},
                    "state_code": row["state_code"],
                    "model": MODEL_CODES.get(row["model"]),
                    "occurrence": n,
                    "first_publication_id": p["id"],
                    "first_seq": p["seq"],
                    "first_sheet_row": sheet_row,
                    "first_seen": p["published_at"],
                    "publications": 0,
                }
            span.update(last_publication_id=p["id"], last_seq=p["seq"], last_sheet_row=sheet_row, last_seen=p["published_at"])
            span["publications"] += 1
    listings.extend(open_spans.values())
    return listings


class Lineage:
    """Walks the participating list in order and keeps agreement identities across ICE's edits."""

    def __init__(self):
        self.agreements = {}  # id -> agreement row
        self.by_key = {}  # (state, norm agency, model, signed_on) -> agreement id
        self.merges = []
        self.changes = []
        self.active = set()  # agreement ids in the last publication walked

    @staticmethod
    def key(row):
        return (row["state_code"], row["agency_norm"], row["model"], row["signed_on"])

    def change(self, pub, kind, agreement_id, before=None, after=None, detail=None):
        a = self.agreements[agreement_id]
        self.changes.append({
            "id": short_id(pub["id"], kind, agreement_id),
            "publication_id": pub["id"],
            "changed_at": pub["published_at"],
            "kind": kind,
            "agreement_id": agreement_id,
            "state_code": a["state_code"],
            "agency": a["agency"],
            "model": a["model"],
            "before": before,
            "after": after,
            "detail": detail,
        })

    def _new(self, key, row, pub):
        agreement_id = short_id(*key)
        if agreement_id in self.agreements:  # the same key re-used after a merge moved it away
            agreement_id = short_id(*key, pub["id"])
        self.agreements[agreement_id] = {
            "id": agreement_id,
            "state_code": key[0],
            "agency": row["agency"],
            "agency_key": (key[0], key[1]),
            "model": MODEL_CODES.get(row["model"]),
            "support_type": row["model"],
            "signed_on": row["signed_on"],
            "signed_printed": row["signed"],
            "level": row["level_clean"],
            "county": row["county"],
            "moa_url": row["moa_url"],
            "addendum_url": row["addendum_url"],
            "first_publication_id": pub["id"],
            "first_seen": pub["published_at"],
            "spellings": {row["agency"]},
            "keys": {key},
        }
        self.by_key[key] = agreement_id
        return agreement_id

    def _update(self, agreement_id, key, row, pub):
        a = self.agreements[agreement_id]
        if a.get("_row") is row:  # rows are shared objects: the same object means nothing changed
            a["last_publication_id"], a["last_seen"] = pub["id"], pub["published_at"]
            return
        a["_row"] = row
        a.update(agency=row["agency"], signed_on=row["signed_on"], signed_printed=row["signed"], last_publication_id=pub["id"], last_seen=pub["published_at"])
        a["spellings"].add(row["agency"])
        for field in ("level", "county", "moa_url", "addendum_url"):
            value = row["level_clean"] if field == "level" else row[field]
            if value:
                a[field] = value
        a["keys"].add(key)
        self.by_key[key] = agreement_id

    def walk(self, pub):
        rows = {}
        for row in pub["rows"]:
            if row["model"]:
                rows.setdefault(self.key(row), row)  # a row printed twice is one agreement
        present = {k for k in rows if k in self.by_key and self.by_key[k] in self.active}
        appeared = {k: r for k, r in rows.items() if k not in present}
        kept = {self.by_key[k] for k in present}
        vanished = self.active - kept
        for k in present:
            self._update(self.by_key[k], k, rows[k], pub)
        self._pair(pub, appeared, vanished, kept)
        for k, row in sorted(appeared.items(), key=lambda kv: tuple("" if x is None else x for x in kv[0])):
            if k in self.by_key and self.agreements[self.by_key[k]].get("status_hint") == "ended":
                agreement_id = self.by_key[k]
                self.change(pub, "relisted", agreement_id, detail="listed again after it had disappeared")
            else:
                agreement_id = self._new(k, row, pub)
                self.change(pub, "added", agreement_id, after=row["signed_on"])
            self._update(agreement_id, k, row, pub)
            self.agreements[agreement_id]["status_hint"] = "active"
            kept.add(agreement_id)
        for agreement_id in vanished - kept:
            a = self.agreements[agreement_id]
            if a.get("status_hint") != "superseded":
                a["status_hint"] = "ended"
                a["ended_publication_id"] = pub["id"]
                a["ended_seen"] = pub["published_at"]
                self.change(pub, "ended", agreement_id, before=a["signed_on"], detail="no longer on ICE's participating list")
        self.active = kept

    def _pair(self, pub, appeared, vanished, kept):
        """Match vanished agreements to appeared rows: re-dated, superseded, or renamed."""
        vanished_by_agency = {}
        for agreement_id in vanished:
            a = self.agreements[agreement_id]
            for key in a["keys"]:
                vanished_by_agency.setdefault(key[:3], []).append(agreement_id)
        for k in sorted(appeared, key=lambda k: tuple("" if x is None else x for x in k)):
            candidates = [i for i in vanished_by_agency.get(k[:3], []) if i in vanished and i not in kept]
            if not candidates:
                continue
            agreement_id = candidates[0]
            a = self.agreements[agreement_id]
            row = appeared.pop(k)
            old_date = a["signed_on"]
            if k[3] and old_date and k[3] > a["first_seen"][:10]:
                # A signing date after the old agreement was already listed is a new MOA, not a typo fix.
                a["status_hint"] = "superseded"
                a["ended_publication_id"] = pub["id"]
                a["ended_seen"] = pub["published_at"]
                new_id = self._new(k, row, pub)
                self._update(new_id, k, row, pub)
                self.agreements[new_id]["status_hint"] = "active"
                a["superseded_by"] = new_id
                self.change(pub, "superseded", agreement_id, before=old_date, after=k[3], detail=f"replaced by agreement {new_id} signed {k[3]}")
                self.change(pub, "added", new_id, after=k[3], detail=f"replaces agreement {agreement_id} signed {old_date}")
                kept.add(new_id)
            else:
                self.merges.append({"agreement_id": agreement_id, "merged_key": " | ".join(str(x) for x in k), "publication_id": pub["id"], "rule": "re-dated", "detail": f"signing date {old_date} -> {k[3]}"})
                self.change(pub, "re-dated", agreement_id, before=old_date, after=k[3])
                self._update(agreement_id, k, row, pub)
            kept.add(agreement_id)
        # Renames: same state, model and signing date, similar name.
        for k in sorted(appeared, key=lambda k: tuple("" if x is None else x for x in k)):
            best, best_ratio = None, RENAME_SIMILARITY
            for agreement_id in vanished - kept:
                a = self.agreements[agreement_id]
                old = next(iter(sorted(a["keys"], key=lambda x: tuple("" if y is None else y for y in x))))
                if (old[0], old[2]) != (k[0], k[2]) or a["signed_on"] != k[3]:
                    continue
                ratio = difflib.SequenceMatcher(None, old[1], k[1]).ratio()
                if ratio >= best_ratio or old[1] in k[1] or k[1] in old[1]:
                    best, best_ratio = agreement_id, max(ratio, best_ratio)
            if best:
                a = self.agreements[best]
                row = appeared.pop(k)
                self.merges.append({"agreement_id": best, "merged_key": " | ".join(str(x) for x in k), "publication_id": pub["id"], "rule": "renamed", "detail": f"{a['agency']!r} -> {row['agency']!r}"})
                self.change(pub, "renamed", best, before=a["agency"], after=row["agency"])
                self._update(best, k, row, pub)
                kept.add(best)


def pending_applications(members, agreements):
    """One row per (agency, model) run on the pending list, linked to the agreement it became, if any."""
    apps, open_apps = [], {}
    signed_index = {}
    for a in agreements.values():
        signed_index.setdefault((a["agency_key"][0], a["agency_key"][1], a["model"]), []).append(a)
    for p in members:
        current = {}
        for row in p["rows"]:
            key = (row["state_code"], row["agency_norm"], MODEL_CODES.get(row["model"]))
            current.setdefault(key, row)
        for key in list(open_apps):
            if key not in current:
                app = open_apps.pop(key)
                app["removed_publication_id"] = p["id"]
                app["removed_at"] = p["published_at"]
                apps.append(app)
        for key, row in current.items():
            app = open_apps.get(key)
            if app is None:
                open_apps[key] = app = {
                    "id": short_id("pending", *key, p["id"]),
                    "state_code": key[0],
                    "agency": row["agency"],
                    "agency_key": key[:2],
                    "model": key[2],
                    "support_type": row["model"] or row["support_type"],
                    "level": row["level_clean"],
                    "county": row["county"],
                    "first_publication_id": p["id"],
                    "first_seen": p["published_at"],
                }
            app.update(last_publication_id=p["id"], last_seen=p["published_at"])
    for app in open_apps.values():
        app["removed_publication_id"] = app["removed_at"] = None
        apps.append(app)
    for app in apps:
        later = [a for a in signed_index.get((app["state_code"], app["agency_key"][1], app["model"]), []) if a["first_seen"] >= app["first_seen"]]
        match = min(later, key=lambda a: a["first_seen"]) if later else None
        app["agreement_id"] = match["id"] if match else None
        if match:
            app["outcome"] = "signed"
            app["signed_on"] = match["signed_on"]
            app["days_to_listed"] = _days(app["first_seen"], match["first_seen"])
        else:
            app["outcome"] = "pending" if app["removed_at"] is None else "removed without an agreement"
            app["signed_on"] = app["days_to_listed"] = None
    return apps


def _days(a, b):
    return (datetime.date.fromisoformat(b[:10]) - datetime.date.fromisoformat(a[:10])).days
