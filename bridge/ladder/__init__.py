"""Pre-registered kill ladders: locked specs, a queue that stops at the first KILL, verdicts from
data (``bridge.ladder.engine``), and reported ladders checked for queue semantics
(``bridge.ladder.reported``). CLI: ``python -m bridge ladder``."""
