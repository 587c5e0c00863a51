"""k-means: one Lloyd iteration (assign, update, label again) from fixed centroids, float32.

d = 16 features, k = 32 clusters, n points. Setup checks the fit against
the NumPy reference and warms the kernels; the timed call is the whole
public ``fit`` with one iteration.
"""
import sorix

from . import cases
from . import references as ref
from .prepare import once_per_params

N_SIZES = [10**4, 10**5, 10**6]


class LloydIteration:
    params = [N_SIZES]
    param_names = ["n"]
    timeout = 300  # the 1e6 reference takes seconds
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self, n):
        from sorix.clustering import Kmeans  # here: an older sorix without it skips this only
        self.kmeans = Kmeans
        x, self.c0 = ref.kmeans_inputs(n)
        self.x = sorix.tensor(x)
        model = self.time_fit_one_iteration(n)
        want = ref.kmeans_iteration_numpy(x, self.c0)
        ref.check_kmeans("sorix", model.centroids.numpy(), model.labels.numpy(), want,
                         inertia=model.get_inertia(self.x))
        self.time_fit_one_iteration(n)

    def time_fit_one_iteration(self, n):
        return self.kmeans(len(self.c0), init=self.c0).fit(self.x, max_iters=1, eps=0.0)


class VersusScikitLearn:
    """sorix time / scikit-learn time for the same iteration at n = 1e6 (both with all
    cores). Skipped without scikit-learn."""
    unit = "sorix/sklearn"
    timeout = 600

    @once_per_params
    def setup(self):
        case = "k-means Lloyd iteration 1e6x16, k=32"
        try:
            self.steps = {"sorix": cases.build(case, "sorix"),
                          "reference": cases.build(case, "sklearn")}
        except cases.Unavailable as why:
            raise NotImplementedError(str(why)) from None

    def track_ratio(self):
        samples = cases.interleaved_samples(self.steps, 5, 0.05)
        return cases.paired_ratio(samples, "sorix", "reference")
