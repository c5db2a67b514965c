from shared.detection.history import History
from shared.detection.rules import Answer, Finding, evaluate_answer, evaluate_silence, moves_of

__all__ = ["Answer", "Finding", "History", "evaluate_answer", "evaluate_silence", "moves_of"]
