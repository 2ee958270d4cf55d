"""A settable clock for the tests: call it for the time, set .t to move it."""


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t
