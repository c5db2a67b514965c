from shared.detection.history import History
from shared.detection.repair import is_repaired, repair_target
from shared.detection.rules import Answer, Finding, evaluate_answer, evaluate_silence, moves_of

__all__ = [
    "Answer",
    "Finding",
    "History",
    "evaluate_answer",
    "evaluate_silence",
    "is_repaired",
    "moves_of",
    "repair_target",
]
