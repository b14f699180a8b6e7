"""Jacobi sweeps written as a script loop program (as in bench/loops.py) and with NumPy slices:
shared by the tests of the bounds-check pass and of the temporaries' allocator."""


def jacobi(a, iters: int):
    """Two temporaries of ``a``'s size per call, swapped each sweep."""
    n = a.shape[0]
    m = a.shape[1]
    new = a.copy()
    for it in range(iters):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                new[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        a, new = new, a
    return a


def jacobi_numpy(a, iters):
    a, new = a.copy(), a.copy()
    for _ in range(iters):
        new[1:-1, 1:-1] = 0.25 * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:])
        a, new = new, a
    return a
