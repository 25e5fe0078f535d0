"""The one typed configuration tree: data, features, labels, model, train, backtest, walkforward.

Loaded from YAML, validated at the boundary (unknown keys are errors that suggest the
closest valid name, wrong types name the key, the expected type and the value),
overridable with `--set a.b=value` (type-checked the same way) and written back to YAML
exactly. Nothing here reads global state: the config is passed down explicitly.

Modules: `base` (what every section shares), `data_sections` (data, features, labels),
`schema` (model, train, backtest, walkforward and the tree `Config`), `load` (YAML -> overrides
-> Config, one-line messages, back to YAML), `yaml_reader` (the safe YAML reader). The names
below are the package's interface; import them from `cryptotrain.config`.
"""

from cryptotrain.config.data_sections import (  # noqa: F401
    ALPHA158_GROUPS,
    ALPHA158_ROLLING,
    BASIC_GROUPS,
    FEATURE_SETS,
    DataConfig,
    FeaturesConfig,
    LabelsConfig,
    SplitConfig,
)
from cryptotrain.config.base import DURATION_RE  # noqa: F401
from cryptotrain.config.load import (  # noqa: F401
    PROJECT_ROOT,
    apply_overrides,
    config_from_dict,
    config_from_yaml_text,
    config_to_dict,
    config_to_yaml,
    load_config,
    resolve_data_path,
    validate_section,
    validation_message,
)
from cryptotrain.config.schema import (  # noqa: F401
    BacktestConfig,
    Config,
    EvaluateConfig,
    ModelConfig,
    TrainConfig,
    WalkForwardConfig,
)
