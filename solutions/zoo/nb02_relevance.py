"""Known mistakes for notebook 02: relevance, relevance_matrix, scaled_relevance_matrix, bilinear_relevance."""
import numpy as np

from . import bug


# ------------------------------------------------------------------------------ relevance

@bug("relevance", "no_sum", "returns the products query * key (an array) instead of their sum",
     "query * key multiplies entry by entry; the relevance is the sum of those products: np.dot(query, key).")
def relevance_no_sum(query, key):
    return query * key


@bug("relevance", "normalised", "the relevance is normalised like a cosine similarity",
     "G is the plain dot product here: do not divide by the lengths (that is cosine_similarity, notebook 01).")
def relevance_normalised(query, key):
    return float(np.dot(query, key) / (np.linalg.norm(query) * np.linalg.norm(key)))


@bug("relevance", "scaled", "the relevance is already divided by sqrt(d)",
     "Scaling by sqrt(d) belongs to scaled_relevance_matrix; relevance is just query . key.")
def relevance_scaled(query, key):
    return float(np.dot(query, key) / np.sqrt(len(query)))


@bug("relevance", "mean_not_sum", "the products are averaged (np.mean) instead of added up",
     "The dot product is the *sum* of the products, np.dot(query, key); the mean divides it by d.")
def relevance_mean(query, key):
    return float(np.mean(query * key))


# ------------------------------------------------------------------------ relevance_matrix

@bug("relevance_matrix", "features_gram", "X.T @ X: a (d, d) matrix over features instead of (T, T) over words",
     "Rows of X are words: R = X @ X.T, so that R[i, j] = X[i] . X[j].")
def relevance_matrix_features(X):
    return X.T @ X


@bug("relevance_matrix", "normalised", "the relevance matrix is normalised (cosine similarities)",
     "R[i, j] is the plain dot product X[i] . X[j]: do not divide by the lengths of the rows.")
def relevance_matrix_normalised(X):
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    return unit @ unit.T


@bug("relevance_matrix", "scaled", "the relevance matrix is already divided by sqrt(d)",
     "Scaling belongs to scaled_relevance_matrix; here R = X @ X.T.")
def relevance_matrix_scaled(X):
    return X @ X.T / np.sqrt(X.shape[1])


@bug("relevance_matrix", "no_transpose", "X @ X without the transpose: (T, d) @ (T, d) only works when T = d",
     "Pair every word with every word: X @ X.T, (T, d) @ (d, T) -> (T, T).")
def relevance_matrix_no_transpose(X):
    return X @ X


@bug("relevance_matrix", "elementwise", "X * X multiplies entry by entry: a (T, d) array, not the (T, T) matrix "
     "of dot products",
     "In numpy `*` is the entry-by-entry product; the matrix product is `@`: R = X @ X.T.")
def relevance_matrix_elementwise(X):
    return X * X


# ----------------------------------------------------------------- scaled_relevance_matrix

@bug("scaled_relevance_matrix", "not_scaled", "the scores are not scaled (missing 1/sqrt(d))",
     "Divide X @ X.T by np.sqrt(d), d = X.shape[-1].", mistake="missing_scale")
def scaled_not_scaled(X):
    return X @ X.T


@bug("scaled_relevance_matrix", "divided_by_d", "the scores are divided by d instead of sqrt(d)",
     "The spread of a dot product grows like sqrt(d) (its variance is d): divide by np.sqrt(d), not d.")
def scaled_by_d(X):
    return X @ X.T / X.shape[-1]


@bug("scaled_relevance_matrix", "sqrt_T", "divided by sqrt(T), the number of words, instead of sqrt(d)",
     "d is the size of each vector, X.shape[-1] (columns); X.shape[0] is the number of words T.")
def scaled_by_sqrt_T(X):
    return X @ X.T / np.sqrt(X.shape[0])


@bug("scaled_relevance_matrix", "half_d", "divided by d ** 1/2, which Python reads as (d ** 1) / 2 = d / 2, "
     "not sqrt(d)",
     "`**` binds tighter than `/`: write d ** 0.5, d ** (1 / 2) or np.sqrt(d). (d = 4 hides it: 4 / 2 = sqrt(4).)")
def scaled_half_d(X):
    d = X.shape[-1]
    scale = d ** 1/2  # (d ** 1) / 2
    return X @ X.T / scale


# ---------------------------------------------------------------------- bilinear_relevance

@bug("bilinear_relevance", "roles_swapped",
     "query and key roles swapped: computes (x_j W_q) . (x_i W_k), the transposed relevance",
     "x_i is the word that asks: it goes through W_q; x_j answers: it goes through W_k.",
     mistake="relevance_transposed")
def bilinear_swapped(x_i, x_j, W_q, W_k):
    return float(np.dot(x_j @ W_q, x_i @ W_k))


@bug("bilinear_relevance", "same_weights",
     "the same matrix W_q projects both words (W_k unused), so the score is symmetric",
     "Project the key word with W_k: (x_i @ W_q) . (x_j @ W_k).")
def bilinear_same_weights(x_i, x_j, W_q, W_k):
    return float(np.dot(x_i @ W_q, x_j @ W_q))


@bug("bilinear_relevance", "no_weights", "the words are not projected: plain x_i . x_j",
     "Project first: query = x_i @ W_q, key = x_j @ W_k, then take their dot product.")
def bilinear_no_weights(x_i, x_j, W_q, W_k):
    return float(np.dot(x_i, x_j))


@bug("bilinear_relevance", "projection_transposed", "the projections are applied as x @ W.T (PyTorch's "
     "nn.Linear convention) instead of x @ W",
     "In the numpy track W_q and W_k have shape (d_in, d_k) and are applied as x_i @ W_q: no .T "
     "((d_in,) @ (d_k, d_in) only works when d_in = d_k).", mistake="weight_not_transposed")
def bilinear_projection_transposed(x_i, x_j, W_q, W_k):
    return float(np.dot(x_i @ W_q.T, x_j @ W_k.T))
