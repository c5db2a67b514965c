"""What row-level security costs: the same queries as the application's role (policies
applied) and as the owner (a superuser, policies skipped), on a seeded PostgreSQL database.

    ATTUNE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/attune_bench \\
        .venv/bin/python -m bench.row_security [--practices 20 --clients 200 --answers 5]

The URL is the owner's; the database is created (or emptied) and migrated. Prints a table of
median and 95th-percentile milliseconds per query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from uuid import UUID, uuid4

from sqlalchemy import text

from shared.credentials import practice_of_credential
from shared.db import Database, create_database
from shared.db.migrations import upgrade
from shared.db.row_security import APP_ROLE, SYSTEM_ROLE
from shared.security import hash_token
from tests.support.postgres import as_role, ensure_login_role, prepare_postgres


def _prepare(url: str) -> None:
    prepare_postgres(url)
    for role in (APP_ROLE, SYSTEM_ROLE):
        ensure_login_role(url, role)
    upgrade(url)


def _seed(owner: Database, practices: int, clients: int, answers: int) -> list[tuple]:
    """Returns (practice id, a client id, a session token) per practice."""
    picked = []
    with owner.engine.begin() as c:
        for p in range(practices):
            practice_id = uuid4()
            c.execute(
                text(
                    "INSERT INTO practice (id, name, settings_version, created_at) "
                    "VALUES (:id, :name, 1, now())"
                ),
                {"id": practice_id, "name": f"Practice {p}"},
            )
            clinician = uuid4()
            c.execute(
                text(
                    "INSERT INTO account (id, practice_id, email, name, role, timezone, "
                    "created_at) VALUES (:id, :p, :email, 'Clin', 'clinician', 'UTC', now())"
                ),
                {"id": clinician, "p": practice_id, "email": f"c{p}@bench.example"},
            )
            token = f"s_bench{p}"
            c.execute(
                text(
                    "INSERT INTO auth_session (token_hash, account_id, practice_id, created_at, "
                    "expires_at) VALUES (:h, :a, :p, now(), now() + interval '1 day')"
                ),
                {"h": hash_token(token), "a": clinician, "p": practice_id},
            )
            client_rows, appointment_rows, invitation_rows, response_rows = [], [], [], []
            for n in range(clients):
                client_id = uuid4()
                client_rows.append(
                    {"id": client_id, "p": practice_id, "c": clinician, "ref": f"RC-{n}"}
                )
                for _ in range(answers):
                    appointment, invitation = uuid4(), uuid4()
                    appointment_rows.append(
                        {"id": appointment, "p": practice_id, "cl": client_id, "c": clinician}
                    )
                    invitation_rows.append(
                        {"id": invitation, "p": practice_id, "a": appointment, "cl": client_id}
                    )
                    response_rows.append(
                        {
                            "id": uuid4(),
                            "p": practice_id,
                            "i": invitation,
                            "cl": client_id,
                            "c": clinician,
                            "a": appointment,
                        }
                    )
            c.execute(
                text(
                    "INSERT INTO client (id, practice_id, clinician_id, reference, email, "
                    "timezone, created_at) VALUES (:id, :p, :c, :ref, 'x@bench.example', "
                    "'UTC', now())"
                ),
                client_rows,
            )
            c.execute(
                text(
                    "INSERT INTO appointment (id, practice_id, client_id, clinician_id, "
                    "starts_at, ends_at, status, updated_at) VALUES (:id, :p, :cl, :c, now(), "
                    "now(), 'completed', now())"
                ),
                appointment_rows,
            )
            c.execute(
                text(
                    "INSERT INTO invitation (id, practice_id, appointment_id, client_id, status, "
                    "send_at, created_at) VALUES (:id, :p, :a, :cl, 'answered', now(), now())"
                ),
                invitation_rows,
            )
            c.execute(
                text(
                    "INSERT INTO response (id, practice_id, invitation_id, client_id, "
                    "clinician_id, appointment_id, scores, mean, asked_to_talk, submitted_at) "
                    "VALUES (:id, :p, :i, :cl, :c, :a, '{}', 4.2, false, now())"
                ),
                response_rows,
            )
            picked.append((practice_id, client_rows[len(client_rows) // 2]["id"], token))
        c.execute(text("ANALYZE"))
    return picked


def _time(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--practices", type=int, default=20)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    owner_url = os.environ["ATTUNE_DATABASE_URL"]
    _prepare(owner_url)
    owner = create_database(owner_url)
    app = create_database(as_role(owner_url, APP_ROLE), system_url=as_role(owner_url, SYSTEM_ROLE))
    picked = _seed(owner, args.practices, args.clients, args.answers)
    practice_id, client_id, token = picked[len(picked) // 2]
    history = text(
        "SELECT count(*), avg(mean) FROM response WHERE practice_id = :p AND client_id = :c"
    )
    caseload = text("SELECT id, reference FROM client WHERE practice_id = :p ORDER BY reference")
    forgotten = text("SELECT count(*) FROM response")  # no filter: RLS is the only scope

    def query(db: Database, statement: object, scoped: UUID | None) -> Callable[[], object]:
        def run() -> object:
            with db.transaction(scoped) as session:
                return session.execute(statement, {"p": practice_id, "c": client_id}).all()

        return run

    def resolve_credential() -> object:
        found = practice_of_credential(app, token)
        with app.transaction(found) as session:
            return session.execute(
                text("SELECT account_id FROM auth_session WHERE token_hash = :h"),
                {"h": hash_token(token)},
            ).first()

    def resolve_as_owner() -> object:
        with owner.transaction() as session:
            return session.execute(
                text("SELECT account_id, practice_id FROM auth_session WHERE token_hash = :h"),
                {"h": hash_token(token)},
            ).first()

    rows = [
        ("one client's answers", query(app, history, practice_id), query(owner, history, None)),
        ("a practice's clients", query(app, caseload, practice_id), query(owner, caseload, None)),
        ("unfiltered count (RLS scopes)", query(app, forgotten, practice_id), None),
        ("resolve a session token", resolve_credential, resolve_as_owner),
    ]
    total = args.practices * args.clients * args.answers
    print(f"{args.practices} practices x {args.clients} clients x {args.answers} answers")
    print(f"= {total} responses; {args.repeat} runs each; ms per query (median / p95)\n")
    print(f"| {'query':<32} | {'app role, RLS':>15} | {'owner, no RLS':>15} |")
    print(f"|{'-' * 34}|{'-' * 17}|{'-' * 17}|")
    for name, with_rls, without in rows:
        a = "{:.2f} / {:.2f}".format(*_time(with_rls, args.repeat))
        b = "{:.2f} / {:.2f}".format(*_time(without, args.repeat)) if without else "-"
        print(f"| {name:<32} | {a:>15} | {b:>15} |")
    app.dispose()
    owner.dispose()


if __name__ == "__main__":
    main()
