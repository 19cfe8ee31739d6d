/* loss_xent.h: softmax cross-entropy over C classes, with a hand-written backward pass.
 *
 * Dimensions: B batch rows, C classes. logits, probs and dlogits are (B, C), row-major.
 * Forward uses the stable form l = logsumexp(a) - a[t] (the row maximum subtracted first), so it
 * is finite for any finite logits. Backward OVERWRITES dlogits (an activation gradient, nn.h). */
#ifndef IMA_LOSS_XENT_H
#define IMA_LOSS_XENT_H

#include <stddef.h>
#include <stdint.h>

/* loss_rows (B) = -log softmax(logits)[target]; probs (B, C) = softmax(logits) (saved for backward).
 * targets (B) in [0, C); a row whose target is outside gets NaN loss and probs (and NaN dlogits in the
 * backward), so the mean is NaN. Returns the mean of loss_rows (double sum). */
double ima_softmax_xent_forward(float *loss_rows, float *probs, const float *logits, const int64_t *targets, size_t B,
                                size_t C);
/* dlogits (B, C) = scale * (probs - onehot(target)); scale = 1/B for the mean loss. */
void ima_softmax_xent_backward(float *dlogits, const float *probs, const int64_t *targets, float scale, size_t B,
                               size_t C);

#endif
