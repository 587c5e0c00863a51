"""Clustering: k-means (:class:`Kmeans`, also spelled ``KMeans``)."""
from .k_means import Kmeans, KMeans

__all__ = ["Kmeans", "KMeans"]
