"""Kendall's tau-b for the study scripts (scripts/*_study.sh), the same statistic as
results/statistics.h's kendall_tau: pairs tied in both lists are skipped, ties in one list count
in that list's denominator term."""
import math


def tau_b(x, y):
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx * dy > 0:
                concordant += 1
            else:
                discordant += 1
    n0 = concordant + discordant
    if n0 + ties_x == 0 or n0 + ties_y == 0:
        return float("nan")
    return (concordant - discordant) / math.sqrt((n0 + ties_x) * (n0 + ties_y))


if __name__ == "__main__":
    # Self-check against hand-counted values.
    assert tau_b([1, 2, 3], [1, 2, 3]) == 1
    assert tau_b([1, 2, 3], [3, 2, 1]) == -1
    assert abs(tau_b([1, 2, 3, 4], [1, 3, 2, 4]) - 4 / 6) < 1e-12
    assert abs(tau_b([1, 1, 2], [1, 2, 3]) - 2 / math.sqrt(2 * 3)) < 1e-12
    print("ok")
