/**
 * The Temporal Fusion Transformer network, pytorch-forecasting's `TemporalFusionTransformer.forward`
 * step for step: embeddings and prescalers, static/encoder/decoder variable selection, the four
 * static context encoders, LSTM encoder and decoder started from the static states, the gated skip
 * around them, static enrichment, interpretable attention (causal over the decoder, padding masked),
 * the gated residual tail and a linear output per quantile, de-normalised with the target scale.
 */
import * as tf from "@tensorflow/tfjs";
import { InterpretableMultiHeadAttention } from "./attention.js";
import type { Kwargs, Tensor } from "./base.js";
import { outputs, TftLayer, type TftLayerConfig } from "./base.js";
import { AddNorm, GateAddNorm, GatedLinearUnit, Linear } from "./gating.js";
import { GatedResidualNetwork } from "./grn.js";
import { Embedding, embeddingSize, Prescaler } from "./inputs.js";
import { Lstm } from "./lstm.js";
import { VariableSelectionNetwork } from "./variable-selection.js";

export interface CategoricalInput {
  name: string;
  /** Classes including the unknown slot 0. */
  cardinality: number;
}

export interface TftNetworkConfig extends TftLayerConfig {
  hiddenSize: number;
  attentionHeads: number;
  dropout: number;
  hiddenContinuousSize: number;
  /** One output per quantile. */
  outputSize: number;
  encoderLength: number;
  predictionLength: number;
  staticCategoricals: CategoricalInput[];
  staticReals: string[];
  /** Known categoricals and reals feed encoder and decoder; unknown reals the encoder only. */
  knownCategoricals: CategoricalInput[];
  knownReals: string[];
  unknownReals: string[];
  /** Decoder steps attend only to earlier steps (pytorch-forecasting's `causal_attention`). */
  causalAttention: boolean;
}

/**
 * One batch of network inputs: B windows of E encoder and P decoder steps. The encoder and decoder
 * parts come separately and stay apart until attention: slicing a joint tensor would copy it whole
 * on WebAssembly, every time.
 */
export interface TftInputs {
  /** One `[B, E]` per encoder real (known reals, then unknown reals). */
  encoderReals: Tensor[];
  /** One `[B, P]` per known real. */
  decoderReals: Tensor[];
  /** One `[B]` per static real. */
  staticReals: Tensor[];
  /** `[B, E]`: 1 for a real encoder step, 0 for left padding. */
  encoderMask: Tensor;
  /** `[B, 2]`: the target normaliser's centre and scale per window. */
  targetScale: Tensor;
  /** `[B, static categoricals]` int32 codes. */
  staticCategoricals?: Tensor;
  /** `[B, E, known categoricals]` and `[B, P, known categoricals]` int32 codes. */
  encoderCategoricals?: Tensor;
  decoderCategoricals?: Tensor;
}

export interface TftOutputs {
  /** `[B, P, quantiles]`, de-normalised (not yet sorted). */
  prediction: Tensor;
  /** `[B, static variables]`. */
  staticWeights: Tensor;
  /** `[B, E, encoder variables]`. */
  encoderWeights: Tensor;
  /** `[B, P, decoder variables]`. */
  decoderWeights: Tensor;
  /** `[B, heads, P, E + P]`. */
  attention: Tensor;
}

export class TemporalFusionTransformer extends TftLayer {
  static readonly className = "TemporalFusionTransformer";
  readonly config: TftNetworkConfig;
  private readonly staticEmbedding: Embedding | undefined;
  private readonly knownEmbedding: Embedding | undefined;
  private readonly staticPrescaler: Prescaler | undefined;
  private readonly timePrescaler: Prescaler;
  private readonly staticSelection: VariableSelectionNetwork;
  private readonly encoderSelection: VariableSelectionNetwork;
  private readonly decoderSelection: VariableSelectionNetwork;
  private readonly staticContextSelection: GatedResidualNetwork;
  private readonly staticContextHidden: GatedResidualNetwork;
  private readonly staticContextCell: GatedResidualNetwork;
  private readonly staticContextEnrichment: GatedResidualNetwork;
  private readonly lstmEncoder: Lstm;
  private readonly lstmDecoder: Lstm;
  private readonly postLstmGate: GatedLinearUnit;
  private readonly postLstmAddNorm: AddNorm;
  private readonly staticEnrichment: GatedResidualNetwork;
  private readonly attention: InterpretableMultiHeadAttention;
  private readonly postAttentionGateNorm: GateAddNorm;
  private readonly positionWiseFeedForward: GatedResidualNetwork;
  private readonly preOutputGateNorm: GateAddNorm;
  private readonly outputLayer: Linear;

  constructor(config: TftNetworkConfig) {
    super(config);
    this.config = config;
    const h = config.hiddenSize;
    const hc = config.hiddenContinuousSize;
    const dropout = config.dropout;
    if (config.staticCategoricals.length + config.staticReals.length === 0) {
      throw new Error("the network needs at least one static variable (the target scale always is one)");
    }
    if (h % config.attentionHeads !== 0) {
      throw new Error(`hidden size ${h} is not a multiple of the ${config.attentionHeads} attention heads`);
    }
    const seeded = (name: string) => ({ name, seed: this.childSeed(name) });
    const grn = (name: string, contextSize: number | null = null) =>
      this.child(
        new GatedResidualNetwork({
          ...seeded(name),
          inputSize: h,
          hiddenSize: h,
          outputSize: h,
          dropout,
          contextSize,
          residual: false,
        }),
      );
    const staticSizes = config.staticCategoricals.map((c) => embeddingSize(c.cardinality, h));
    const knownSizes = config.knownCategoricals.map((c) => embeddingSize(c.cardinality, h));
    if (staticSizes.length > 0) {
      this.staticEmbedding = this.child(
        new Embedding({
          ...seeded("static_embedding"),
          cardinalities: config.staticCategoricals.map((c) => c.cardinality),
          embeddingSizes: staticSizes,
        }),
      );
    }
    if (knownSizes.length > 0) {
      this.knownEmbedding = this.child(
        new Embedding({
          ...seeded("known_embedding"),
          cardinalities: config.knownCategoricals.map((c) => c.cardinality),
          embeddingSizes: knownSizes,
        }),
      );
    }
    if (config.staticReals.length > 0) {
      this.staticPrescaler = this.child(
        new Prescaler({ ...seeded("static_prescaler"), count: config.staticReals.length, size: hc }),
      );
    }
    const timeRealCount = config.knownReals.length + config.unknownReals.length;
    this.timePrescaler = this.child(new Prescaler({ ...seeded("time_prescaler"), count: timeRealCount, size: hc }));
    const selection = (name: string, categoricalSizes: number[], realCount: number, contextSize: number | null) =>
      this.child(
        new VariableSelectionNetwork({
          ...seeded(name),
          hiddenSize: h,
          dropout,
          contextSize,
          categoricalSizes,
          realCount,
          realSize: hc,
        }),
      );
    this.staticSelection = selection("static_variable_selection", staticSizes, config.staticReals.length, null);
    this.encoderSelection = selection("encoder_variable_selection", knownSizes, timeRealCount, h);
    this.decoderSelection = selection("decoder_variable_selection", knownSizes, config.knownReals.length, h);
    this.staticContextSelection = grn("static_context_variable_selection");
    this.staticContextHidden = grn("static_context_initial_hidden_lstm");
    this.staticContextCell = grn("static_context_initial_cell_lstm");
    this.staticContextEnrichment = grn("static_context_enrichment");
    this.lstmEncoder = this.child(new Lstm({ ...seeded("lstm_encoder"), inputSize: h, units: h }));
    this.lstmDecoder = this.child(new Lstm({ ...seeded("lstm_decoder"), inputSize: h, units: h }));
    // pytorch-forecasting shares the post-LSTM gate and add-norm between encoder and decoder.
    this.postLstmGate = this.child(
      new GatedLinearUnit({ ...seeded("post_lstm_gate"), inputSize: h, hiddenSize: h, dropout }),
    );
    this.postLstmAddNorm = this.child(
      new AddNorm({ ...seeded("post_lstm_add_norm"), inputSize: h, skipSize: h, trainableAdd: false }),
    );
    this.staticEnrichment = grn("static_enrichment", h);
    this.attention = this.child(
      new InterpretableMultiHeadAttention({
        ...seeded("multihead_attn"),
        hiddenSize: h,
        heads: config.attentionHeads,
        dropout,
      }),
    );
    this.postAttentionGateNorm = this.child(
      new GateAddNorm({
        ...seeded("post_attn_gate_norm"),
        inputSize: h,
        hiddenSize: h,
        skipSize: h,
        trainableAdd: false,
        dropout,
      }),
    );
    this.positionWiseFeedForward = grn("pos_wise_ff");
    // No dropout this late, as in pytorch-forecasting.
    this.preOutputGateNorm = this.child(
      new GateAddNorm({
        ...seeded("pre_output_gate_norm"),
        inputSize: h,
        hiddenSize: h,
        skipSize: h,
        trainableAdd: false,
        dropout: null,
      }),
    );
    this.outputLayer = this.child(
      new Linear({
        ...seeded("output_layer"),
        inputSize: h,
        outputSize: config.outputSize,
        bias: true,
        init: "default",
      }),
    );
  }

  /** Creates every weight without running the network. */
  override build(): void {
    const { hiddenSize: h, hiddenContinuousSize: hc, encoderLength: e, predictionLength: p } = this.config;
    const b = null;
    const staticSizes = this.staticEmbedding?.config.embeddingSizes ?? [];
    const knownSizes = this.knownEmbedding?.config.embeddingSizes ?? [];
    const timeRealCount = this.config.knownReals.length + this.config.unknownReals.length;
    if (this.staticEmbedding) this.buildChild(this.staticEmbedding, [b, staticSizes.length]);
    if (this.knownEmbedding) this.buildChild(this.knownEmbedding, [b, e, knownSizes.length]);
    if (this.staticPrescaler) this.buildChild(this.staticPrescaler, [b]);
    this.buildChild(this.timePrescaler, [b, e]);
    const shapes = (lead: tf.Shape, sizes: number[], reals: number, context: boolean): tf.Shape[] => [
      ...sizes.map((size) => [...lead, size]),
      ...Array.from({ length: reals }, () => [...lead, hc]),
      ...(context ? [[b, h]] : []),
    ];
    this.buildChild(this.staticSelection, shapes([b], staticSizes, this.config.staticReals.length, false));
    this.buildChild(this.encoderSelection, shapes([b, e], knownSizes, timeRealCount, true));
    this.buildChild(this.decoderSelection, shapes([b, p], knownSizes, this.config.knownReals.length, true));
    for (const grn of [
      this.staticContextSelection,
      this.staticContextHidden,
      this.staticContextCell,
      this.staticContextEnrichment,
      this.positionWiseFeedForward,
    ]) {
      this.buildChild(grn, [b, h]);
    }
    this.buildChild(this.lstmEncoder, [[b, e, h]]);
    this.buildChild(this.lstmDecoder, [[b, p, h]]);
    this.buildChild(this.postLstmGate, [b, e, h]);
    this.buildChild(this.postLstmAddNorm, [
      [b, e, h],
      [b, e, h],
    ]);
    this.buildChild(this.staticEnrichment, [
      [b, e, h],
      [b, h],
    ]);
    this.buildChild(this.attention, [
      [b, p, h],
      [b, e + p, h],
    ]);
    this.buildChild(this.postAttentionGateNorm, [
      [b, p, h],
      [b, p, h],
    ]);
    this.buildChild(this.preOutputGateNorm, [
      [b, p, h],
      [b, p, h],
    ]);
    this.buildChild(this.outputLayer, [b, p, h]);
    this.built = true;
  }

  /** The tensors of `inputs` in the order `call` takes them. */
  inputList(inputs: TftInputs): Tensor[] {
    const c = this.config;
    const expect = (what: string, tensors: Tensor[], count: number) => {
      if (tensors.length !== count) throw new Error(`the network takes ${count} ${what}, got ${tensors.length}`);
      return tensors;
    };
    const list = [
      inputs.encoderMask,
      inputs.targetScale,
      ...expect("encoder reals", inputs.encoderReals, c.knownReals.length + c.unknownReals.length),
      ...expect("decoder reals", inputs.decoderReals, c.knownReals.length),
      ...expect("static reals", inputs.staticReals, c.staticReals.length),
    ];
    const optional = [
      [this.staticEmbedding, [inputs.staticCategoricals], "staticCategoricals"],
      [this.knownEmbedding, [inputs.encoderCategoricals, inputs.decoderCategoricals], "known categoricals"],
    ] as const;
    for (const [present, tensors, what] of optional) {
      if (!present) continue;
      for (const tensor of tensors) {
        if (!tensor) throw new Error(`the network needs the ${what} input`);
        list.push(tensor);
      }
    }
    return list;
  }

  /** Runs the network: the typed face of `apply`. */
  forward(inputs: TftInputs, kwargs: Kwargs = {}): TftOutputs {
    const [prediction, staticWeights, encoderWeights, decoderWeights, attention] = this.apply(
      this.inputList(inputs),
      kwargs,
    ) as Tensor[];
    return {
      prediction: prediction as Tensor,
      staticWeights: staticWeights as Tensor,
      encoderWeights: encoderWeights as Tensor,
      decoderWeights: decoderWeights as Tensor,
      attention: attention as Tensor,
    };
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const b = ((inputShape as tf.Shape[])[1] as tf.Shape)[0] ?? null;
    const { encoderLength: e, predictionLength: p, outputSize, attentionHeads } = this.config;
    const c = this.config;
    return [
      [b, p, outputSize],
      [b, c.staticCategoricals.length + c.staticReals.length],
      [b, e, c.knownCategoricals.length + c.knownReals.length + c.unknownReals.length],
      [b, p, c.knownCategoricals.length + c.knownReals.length],
      [b, attentionHeads, p, e + p],
    ];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor[] {
    return tf.tidy(() => {
      const list = [...(inputs as Tensor[])];
      const c = this.config;
      const [encoderMask, targetScale] = list.splice(0, 2) as [tf.Tensor2D, Tensor];
      const encoderReals = list.splice(0, c.knownReals.length + c.unknownReals.length);
      const decoderReals = list.splice(0, c.knownReals.length);
      const staticRealValues = list.splice(0, c.staticReals.length);
      const staticCodes = this.staticEmbedding ? list.shift() : undefined;
      const [encoderCodes, decoderCodes] = this.knownEmbedding ? list.splice(0, 2) : [];
      const batch = targetScale.shape[0] as number;
      const apply = (layer: TftLayer, x: Tensor | Tensor[]) => layer.apply(x, kwargs) as Tensor;
      const applyMany = (layer: TftLayer, x: Tensor | Tensor[]) => outputs(layer.apply(x, kwargs) as Tensor | Tensor[]);

      // Static variables → one static embedding and its four contexts (categoricals first, as in
      // pytorch-forecasting's variable order).
      const staticInputs: Tensor[] = [];
      if (this.staticEmbedding && staticCodes) staticInputs.push(...applyMany(this.staticEmbedding, staticCodes));
      if (this.staticPrescaler) staticInputs.push(...applyMany(this.staticPrescaler, staticRealValues));
      const [staticEmbedding, staticWeights] = applyMany(this.staticSelection, staticInputs) as [Tensor, Tensor];
      const selectionContext = apply(this.staticContextSelection, staticEmbedding);

      // Time-varying variables, selected separately for the encoder and the decoder; the prescalers
      // of known reals are shared by both (the decoder's are the first ones).
      const encoderCats = this.knownEmbedding && encoderCodes ? applyMany(this.knownEmbedding, encoderCodes) : [];
      const decoderCats = this.knownEmbedding && decoderCodes ? applyMany(this.knownEmbedding, decoderCodes) : [];
      const [encoderEmbedding, encoderWeights] = applyMany(this.encoderSelection, [
        ...encoderCats,
        ...applyMany(this.timePrescaler, encoderReals),
        selectionContext,
      ]) as [Tensor, Tensor];
      const [decoderEmbedding, decoderWeights] = applyMany(this.decoderSelection, [
        ...decoderCats,
        ...applyMany(this.timePrescaler, decoderReals),
        selectionContext,
      ]) as [Tensor, Tensor];

      // Local processing: LSTMs from the static states, then the gated skip connection around them
      // (one gate and add-norm shared by encoder and decoder, as in pytorch-forecasting).
      const h0 = apply(this.staticContextHidden, staticEmbedding);
      const c0 = apply(this.staticContextCell, staticEmbedding);
      const [encoderOutput, hidden, cell] = applyMany(this.lstmEncoder, [encoderEmbedding, h0, c0, encoderMask]) as [
        Tensor,
        Tensor,
        Tensor,
      ];
      const [decoderOutput] = applyMany(this.lstmDecoder, [decoderEmbedding, hidden, cell]) as [Tensor];
      const skip = (output: Tensor, embedding: Tensor) =>
        apply(this.postLstmAddNorm, [apply(this.postLstmGate, output), embedding]);
      const encoderLstm = skip(encoderOutput, encoderEmbedding);
      const decoderLstm = skip(decoderOutput, decoderEmbedding);

      // Static enrichment, then attention of the decoder steps over the whole window.
      const enrichment = apply(this.staticContextEnrichment, staticEmbedding);
      const encoderAttentionInput = apply(this.staticEnrichment, [encoderLstm, enrichment]);
      const decoderAttentionInput = apply(this.staticEnrichment, [decoderLstm, enrichment]);
      const [attended, attention] = applyMany(this.attention, [
        decoderAttentionInput,
        tf.concat([encoderAttentionInput, decoderAttentionInput], 1),
        this.maskBias(encoderMask),
      ]) as [Tensor, Tensor];

      // The gated residual tail and the quantile outputs.
      let output = apply(this.postAttentionGateNorm, [attended, decoderAttentionInput]);
      output = apply(this.positionWiseFeedForward, output);
      output = apply(this.preOutputGateNorm, [output, decoderLstm]);
      const normalised = apply(this.outputLayer, output);
      const center = tf.reshape(tf.slice(targetScale, [0, 0], [batch, 1]), [batch, 1, 1]);
      const scale = tf.reshape(tf.slice(targetScale, [0, 1], [batch, 1]), [batch, 1, 1]);
      const prediction = tf.softplus(tf.add(tf.mul(normalised, scale), center));
      return [prediction, staticWeights, encoderWeights, decoderWeights, attention];
    });
  }

  /**
   * `[B, 1, P, E + P]`: -1e9 on encoder padding and, with causal attention, on each decoder step's
   * own and later steps (pytorch-forecasting's `get_attention_mask`: `attend_step >= predict_step`).
   */
  private maskBias(encoderMask: tf.Tensor2D): Tensor {
    const { encoderLength: e, predictionLength: p, causalAttention } = this.config;
    const allowed = new Float32Array(p * (e + p));
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < e + p; j++) allowed[i * (e + p) + j] = j < e || !causalAttention || j - e < i ? 1 : 0;
    }
    const batch = encoderMask.shape[0];
    const keys = tf.reshape(tf.concat([encoderMask, tf.ones([batch, p])], 1), [batch, 1, 1, e + p]);
    const open = tf.mul(keys, tf.tensor4d(allowed, [1, 1, p, e + p]));
    return tf.mul(tf.sub(open, 1), 1e9);
  }
}

tf.serialization.registerClass(TemporalFusionTransformer);
