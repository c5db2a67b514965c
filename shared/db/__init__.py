from shared.db.engine import Database, create_database
from shared.db.types import UtcDateTime
from shared.db.upsert import insert_ignoring_conflict

__all__ = ["Database", "UtcDateTime", "create_database", "insert_ignoring_conflict"]
