"""Correct answers in other styles for notebook 02."""
import math

import numpy as np

from . import variant


@variant("relevance", "loop_sum")
def relevance_loop_sum(query, key):
    total = 0.0
    for q, k in zip(query, key):
        total += q * k
    return total


@variant("relevance", "sum_of_products")
def relevance_sum_of_products(query, key):
    return (query * key).sum()  # a numpy scalar


@variant("relevance", "einsum")
def relevance_einsum(query, key):
    return np.einsum("d,d->", query, key)


@variant("relevance_matrix", "loops")
def relevance_matrix_loops(X):
    T = X.shape[0]
    R = np.zeros((T, T))
    for i in range(T):
        for j in range(T):
            R[i, j] = sum(a * b for a, b in zip(X[i], X[j]))
    return R


@variant("relevance_matrix", "einsum")
def relevance_matrix_einsum(X):
    return np.einsum("id,jd->ij", X, X)


@variant("relevance_matrix", "float32")
def relevance_matrix_float32(X):
    X = X.astype(np.float32)
    return X @ X.T


@variant("scaled_relevance_matrix", "scale_inputs_first")
def scaled_scale_inputs_first(X):
    Y = X / X.shape[-1] ** 0.25  # sqrt(d) split between the two factors
    return Y @ Y.T


@variant("scaled_relevance_matrix", "loops")
def scaled_loops(X):
    T, d = X.shape
    R = np.empty((T, T))
    for i in range(T):
        for j in range(T):
            R[i, j] = np.dot(X[i], X[j]) / math.sqrt(d)
    return R


@variant("scaled_relevance_matrix", "float32")
def scaled_float32(X):
    X = X.astype(np.float32)
    return (X @ X.T) * np.float32(1.0 / math.sqrt(X.shape[1]))


@variant("bilinear_relevance", "matrix_first")
def bilinear_matrix_first(x_i, x_j, W_q, W_k):
    M = W_q @ W_k.T  # (d_in, d_in): the relevance as one bilinear form
    return float(x_i @ M @ x_j)


@variant("bilinear_relevance", "einsum")
def bilinear_einsum(x_i, x_j, W_q, W_k):
    return np.einsum("a,ak,b,bk->", x_i, W_q, x_j, W_k)


@variant("bilinear_relevance", "loops")
def bilinear_loops(x_i, x_j, W_q, W_k):
    d_in, d_k = W_q.shape
    query = [sum(x_i[a] * W_q[a, k] for a in range(d_in)) for k in range(d_k)]
    key = [sum(x_j[a] * W_k[a, k] for a in range(d_in)) for k in range(d_k)]
    return sum(q * k for q, k in zip(query, key))
