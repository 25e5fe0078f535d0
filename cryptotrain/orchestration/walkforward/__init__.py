"""Walk-forward: the plan of folds (`plan`), running them on the executor (`run`) and stitching
their test parts into one evaluation and backtest (`stitch`)."""
