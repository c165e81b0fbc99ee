"""Generated metric series for the detector tests and the bench: hourly counts with a
daily curve, quieter weekends, a Monday-morning peak (08:00-10:59, x2.5) and Gaussian
noise of Poisson size (sd = sqrt(level)). Hour 0 is a Monday 00:00."""

from __future__ import annotations

import math
import random

MONDAY_PEAK_HOURS = range(8, 11)


def level(hour: int, base: float = 200.0) -> float:
    dow, hod = (hour // 24) % 7, hour % 24
    daily = 0.3 + 0.7 * math.exp(-(((hod - 14) / 4) ** 2))
    weekly = 0.6 if dow >= 5 else 1.0
    peak = 2.5 if dow == 0 and hod in MONDAY_PEAK_HOURS else 1.0
    return base * daily * weekly * peak


def hourly(seed: int, days: int = 60, base: float = 200.0) -> list[float]:
    rng = random.Random(seed)
    out = []
    for h in range(days * 24):
        lam = level(h, base)
        out.append(max(0.0, rng.gauss(lam, math.sqrt(lam))))
    return out
