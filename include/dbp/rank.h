/*
 * rank.h - the Compound Anomaly Graph (SPEC §5, reference §6.7): edge
 * weights between database nodes, weighted PageRank, ranking of
 * <node, type> pairs, AC@k, and the two baselines the method is reported
 * beside (XGBoost without the graph; a rule on z-scores).
 *
 * Graph: nodes = database nodes; node attribute = the vector of per-type
 * probabilities from the boosters; edge weight w_ij = mean over metrics k
 * of |Pearson(m_i^k, m_j^k)| over the diagnosis window's time series (the
 * paper's definition; the original backend correlated the two 928-value
 * feature vectors instead, which mostly measures scale).
 *
 * Ranking: every pair <i, l> scores PR(i) * P_il, sorted descending; ties
 * broken by P, then node index, then type index (deterministic; the
 * research code shuffled).  No softmax: the backend's softmax over N*L
 * products in [0, 1] flattened every score to about 1/(L*N).
 *
 * Pure computation on caller-owned arrays; thread-safe.
 */
#ifndef DBP_RANK_H
#define DBP_RANK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * PageRank formulations (d = damping, w = symmetric weight matrix, the
 * diagonal ignored; both use squared weights as the paper does):
 *
 * DBP_PR_NORMALISED (default): the standard weighted PageRank, a random walk
 *   that leaves node j for i with probability w_ij^2 / sum_k w_jk^2:
 *     PR(i) = (1-d)/N + d * sum_j PR(j) * w_ij^2 / S_j
 *   (a node without edges spreads its rank evenly), then reported scaled by
 *   N so the mean is 1 and PR * P stays comparable to P.  It is a Markov
 *   chain: it always converges, to a unique fixed point, whatever N and the
 *   weights.  Default for that reason.
 *
 * DBP_PR_PAPER: the paper's un-normalised form (reference §6.7)
 *     PR(i) = (1-d) + d * sum_j PR(j) * w_ij^2,   initial 1 - d
 *   A linear recurrence that converges only when d * rho(W∘W) < 1 (rho =
 *   spectral radius); three fully correlated nodes give 0.85 * 2 > 1 and it
 *   diverges, which the research code hid by stopping after 10 iterations.
 *   Offered for comparison; non-convergence is reported, not hidden.
 */
enum dbp_pr_form { DBP_PR_NORMALISED = 0, DBP_PR_PAPER = 1 };

#define DBP_PR_DAMPING 0.85
#define DBP_PR_TOL 1e-10
#define DBP_PR_MAXIT 1000

struct dbp_pr_info {
    int iterations;
    bool converged; /* max |delta| < tol before maxit (and finite) */
    double delta;   /* last max |delta| */
};

/*
 * Weighted PageRank over n nodes; w is n*n row-major (w[i*n+j]), symmetric,
 * non-negative (negative or NaN entries count as 0).  pr receives n values.
 * Iterates (Jacobi) until max |delta| < tol or maxit iterations.  info may
 * be NULL.  Returns 0, or -1 when n < 1.
 */
int dbp_pagerank(const double *w, int n, double d, enum dbp_pr_form form, double tol, int maxit,
                 double *pr, struct dbp_pr_info *info);

/* Name of a formulation ("normalised" / "paper") and back (-1 unknown). */
const char *dbp_pr_form_name(enum dbp_pr_form f);
int dbp_pr_form_from_name(const char *s);

/* Pearson correlation of x and y over the positions where both are finite;
 * NaN when fewer than 3 such positions or either side is constant. */
double dbp_pearson(const double *x, const double *y, int n);

/*
 * Edge weights from a window: win holds nnodes * nmetrics series of w
 * samples, layout ((node * nmetrics) + metric) * w + k (the layout of
 * dbp_collector_window()).  out (nnodes*nnodes) receives w_ij = mean over
 * the metrics where dbp_pearson() is defined of |r|, 0 when there is none;
 * the diagonal is 0.  *used (may be NULL) receives, per pair, the number
 * of metrics that entered the mean (row-major, same shape).
 */
void dbp_rank_edge_weights(const double *win, int nnodes, int nmetrics, int w, double *out,
                           int *used);

struct dbp_rank_item {
    int node;     /* index into the caller's node list */
    int type;     /* index into the caller's class list */
    double score; /* what the list is sorted by */
    double prob;  /* P(type | node window) from the booster (rule: 0) */
    double pr;    /* the node's PageRank (xgboost / rule: 1) */
};

/*
 * The method: items (nnodes * ntypes, caller-allocated) = every pair with
 * score = pr[node] * probs[node * ntypes + type], sorted.  pr may be NULL
 * for the "xgboost" baseline (PageRank 1 everywhere: rank by probability
 * only).  Returns the number of items.
 */
int dbp_rank_pairs(const double *probs, const double *pr, int nnodes, int ntypes,
                   struct dbp_rank_item *items);

/* Sort items by score desc, prob desc, node asc, type asc. */
void dbp_rank_sort(struct dbp_rank_item *items, int n);

/*
 * Precision@k of a ranked list against a ground truth truth[node*ntypes +
 * type] (true = a root cause): |{top-k items in truth}| / min(k, |truth|).
 * NaN when the truth is empty (a normal instance has no root cause to find).
 * AC@k is the mean of this over instances.
 */
double dbp_precision_at_k(const struct dbp_rank_item *ranked, int nitems, const bool *truth,
                          int nnodes, int ntypes, int k);

/* ---- rule baseline --------------------------------------------------------- */

/*
 * Category -> anomaly type of the rule baseline (NULL: the category names no
 * fault type):
 *   cpu -> cpu_stress            io -> io_bottleneck
 *   network -> network_bottleneck memory -> cache_bottleneck
 *   transactions -> workload_surge  cluster -> lock_contention
 * (cluster = Galera certification / flow-control state, which row-lock
 * conflicts move first.)  Matching is case-insensitive.
 */
const char *dbp_rule_type_for_category(const char *category);

/* Largest |z| a metric contributes to the rule (a baseline that was
 * constant and moved has an unbounded z). */
#define DBP_RULE_ZCAP 100.0

/*
 * z-score of the newest samples of one series against what came before:
 * |mean(last 3 valid) - mean(earlier valid)| / std(earlier valid), std
 * floored at max(1e-9, 1e-3 * |mean(earlier)|), capped at DBP_RULE_ZCAP.
 * With fewer than 3 earlier valid points the baseline is all valid points
 * (MetricRooter's definition).  0 with fewer than 2 valid points.
 */
double dbp_rule_zscore(const double *series, int n);

/*
 * The rule baseline for one node: given per-metric |z| and categories, and
 * the class list, pick the category with the largest single-metric |z|
 * whose mapped type is among the classes.  Returns the class index or -1
 * (no category maps to a class, or all z are 0); *score = that |z|.
 */
int dbp_rule_node(const double *z, const char *const *categories, int nmetrics,
                  const char *const *classes, int nclasses, double *score);

#endif
