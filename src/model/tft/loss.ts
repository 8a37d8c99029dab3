/**
 * pytorch-forecasting's `QuantileLoss` on de-normalised predictions: per target and quantile
 * `2 · max(q·(y − ŷ), (q − 1)·(y − ŷ))`, averaged over quantiles, steps and windows (its
 * `mask_losses` divides by the number of quantiles, `reduce_loss` by the number of steps).
 */
import * as tf from "@tensorflow/tfjs";

/** `prediction [B, P, Q]`, `target [B, P]` → the mean loss (a scalar). */
export function quantileLoss(prediction: tf.Tensor, target: tf.Tensor, quantiles: readonly number[]): tf.Scalar {
  return tf.tidy(() => {
    const errors = tf.sub(tf.expandDims(target, -1), prediction);
    const q = tf.tensor1d(quantiles as number[]);
    const pinball = tf.maximum(tf.mul(errors, q), tf.mul(errors, tf.sub(q, 1)));
    return tf.mul(tf.mean(pinball), 2) as tf.Scalar;
  });
}
