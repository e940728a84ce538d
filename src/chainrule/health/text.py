"""Every word the health report prints or draws, in English and Chinese.

The same mechanism as explain's (``chainrule.explain.text``): one phrase table per
language, numbers written the same in both. The figure draws Chinese with the CJK subset
that explain ships; ``chainrule.explain.fonts.figure_charset`` counts these phrases too,
so the subset has every character they use.
"""

from __future__ import annotations

from chainrule.health.signals import Finding

LANGS = ("en", "zh")

_EN = {
    "layer": "layer {layer}",
    "model": "the model",
    "help": "; help: ",
    "msg.saturated": "{where}: {pct} % of {kind} units saturated: gradients through them are "
    "multiplied by < {gain}",
    "fix.saturated": "smaller initial weights or batch norm",
    "msg.dead": "{where}: {pct} % of ReLU units dead (never active for the {samples} samples "
    "seen this epoch): no gradient reaches their weights",
    "fix.dead": "a lower learning rate, a bias or initialization that starts them active, "
    "or LeakyReLU",
    "msg.update_ratio": "{where} ({param}): update-to-data ratio 10^{value} (healthy: near "
    "10^-3): each step moves the weights by {pct} % of their spread",
    "fix.update_ratio": "lower the learning rate",
    "msg.vanishing": "{where}: gradient {times} times smaller than at layer {last} (RMS {rms} "
    "vs {last_rms}): the early layers barely learn (vanishing gradients)",
    "msg.vanishing_zero": "{where}: gradient 0 (at layer {last}: RMS {last_rms}): no gradient "
    "reaches the early layers (vanishing gradients)",
    "fix.vanishing": "ReLU instead of sigmoid/tanh, batch norm, or a better initialization",
    "msg.exploding": "{where}: gradient {times} times larger than at layer {last} (RMS {rms} "
    "vs {last_rms}): exploding gradients",
    "msg.exploding_nan": "{where} ({param}): the gradient is not finite (exploding gradients)",
    "fix.exploding": "lower the learning rate, clip gradients (nn.utils.clip_grad_norm_), or "
    "batch norm",
    "msg.initial_loss": "initial loss {loss} vs ln({classes}) = {expected} for an untrained "
    "{classes}-class classifier: the first predictions are confidently wrong",
    "fix.initial_loss": "smaller weights in the last layer (and a zero bias)",
    # the report
    "report_title": "chainrule health: {run}",
    "report_steps": "{n} sampled steps (every {every} steps), steps {first} to {last}",
    "report_initial": "initial loss {loss} (an untrained {classes}-class classifier: ln({classes}) "
    "= {expected})",
    "report_last": "at the last sampled step ({step}):",
    "report_acts": "activations",
    "report_params": "parameters",
    "col_layer": "layer",
    "col_kind": "kind",
    "col_mean": "mean",
    "col_std": "std",
    "col_saturated": "saturated",
    "col_dead": "dead",
    "col_amplifier": "σ'(z) mean",
    "col_param": "parameter",
    "col_grad_norm": "grad norm",
    "col_grad_data": "grad/data",
    "col_update": "log10 update/data",
    "report_warnings": "warnings ({n}):",
    "report_warning": "step {step}: {message}",
    "report_healthy": "no warnings: every signal stayed within its threshold",
    "report_figure": "figure: {path}",
    # the figure
    "fig_title": "chainrule health: {run}",
    "fig_saturated": "saturated fraction (tanh, sigmoid)",
    "fig_dead": "dead ReLU fraction (this epoch)",
    "fig_update": "update-to-data ratio, log10",
    "fig_band": "healthy: near 10^-3",
    "fig_grad": "gradient norm",
    "fig_step": "step",
    "fig_none": "no layer of this kind",
    "fig_threshold": "warning threshold",
    "fig_warnings": "warnings: {n} (see the text report)",
    "fig_no_warnings": "no warnings",
}

_ZH = {
    "layer": "第 {layer} 层",
    "model": "模型",
    "help": "；建议：",
    "msg.saturated": "{where}：{pct} % 的 {kind} 单元已饱和：经过它们的梯度被乘以不到 {gain}",
    "fix.saturated": "减小初始权重，或使用批归一化",
    "msg.dead": "{where}：{pct} % 的 ReLU 单元已死亡（本轮见过的 {samples} 个样本都没有激活"
    "它们）：梯度到不了它们的权重",
    "fix.dead": "减小学习率，用让它们一开始就激活的偏置或初始化，或改用 LeakyReLU",
    "msg.update_ratio": "{where}（{param}）：更新与数据之比 10^{value}（健康值约 10^-3）："
    "每一步使权重移动其离散程度的 {pct} %",
    "fix.update_ratio": "减小学习率",
    "msg.vanishing": "{where}：梯度比第 {last} 层小 {times} 倍（RMS {rms} 对 {last_rms}）："
    "前面的层几乎学不到东西（梯度消失）",
    "msg.vanishing_zero": "{where}：梯度为 0（第 {last} 层的 RMS 为 {last_rms}）："
    "梯度到不了前面的层（梯度消失）",
    "fix.vanishing": "用 ReLU 代替 sigmoid/tanh、批归一化，或更好的初始化",
    "msg.exploding": "{where}：梯度比第 {last} 层大 {times} 倍（RMS {rms} 对 {last_rms}）："
    "梯度爆炸",
    "msg.exploding_nan": "{where}（{param}）：梯度不是有限值（梯度爆炸）",
    "fix.exploding": "减小学习率、梯度裁剪（nn.utils.clip_grad_norm_），或批归一化",
    "msg.initial_loss": "初始损失 {loss}，而未训练的 {classes} 类分类器应约为 ln({classes}) = "
    "{expected}：一开始的预测就自信地错了",
    "fix.initial_loss": "减小最后一层的权重（并把偏置置零）",
    "report_title": "chainrule health：{run}",
    "report_steps": "{n} 个采样步（每 {every} 步一次），第 {first} 步到第 {last} 步",
    "report_initial": "初始损失 {loss}（未训练的 {classes} 类分类器：ln({classes}) = {expected}）",
    "report_last": "最后一个采样步（第 {step} 步）：",
    "report_acts": "激活",
    "report_params": "参数",
    "col_layer": "层",
    "col_kind": "类型",
    "col_mean": "均值",
    "col_std": "标准差",
    "col_saturated": "饱和",
    "col_dead": "死亡",
    "col_amplifier": "σ'(z) 均值",
    "col_param": "参数",
    "col_grad_norm": "梯度范数",
    "col_grad_data": "梯度/数据",
    "col_update": "log10 更新/数据",
    "report_warnings": "警告（{n} 条）：",
    "report_warning": "第 {step} 步：{message}",
    "report_healthy": "没有警告：每个信号都在阈值之内",
    "report_figure": "图已写入：{path}",
    "fig_title": "chainrule health：{run}",
    "fig_saturated": "饱和比例（tanh、sigmoid）",
    "fig_dead": "死亡 ReLU 比例（本轮）",
    "fig_update": "更新与数据之比，log10",
    "fig_band": "健康值：约 10^-3",
    "fig_grad": "梯度范数",
    "fig_step": "步",
    "fig_none": "没有这种层",
    "fig_threshold": "警告阈值",
    "fig_warnings": "警告：{n} 条（见文字报告）",
    "fig_no_warnings": "没有警告",
}

TEXT = {"en": _EN, "zh": _ZH}

#: What a saturated unit passes at most: sigma'(z) at the saturation edge, rounded up.
_GAIN = {"tanh": "0.06", "sigmoid": "0.03"}


def text(lang: str) -> dict:
    """The phrase table for ``lang`` ("en" or "zh")."""
    if lang not in TEXT:
        raise ValueError(f"lang: expected one of {', '.join(LANGS)}, got {lang!r}")
    return TEXT[lang]


def num(x: float | None, digits: int = 3) -> str:
    """A number for reading: ``digits`` significant digits, "—" for None."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def where(T: dict, layer: str) -> str:
    return T["layer"].format(layer=layer) if layer else T["model"]


def message(finding: Finding, lang: str = "en") -> str:
    """One line naming the layer, the problem and the fix."""
    T, f = text(lang), finding
    facts = {**f.facts, "where": where(T, f.layer)}
    if f.signal in ("saturated", "dead"):
        facts["pct"] = f"{100 * f.value:.0f}"
        facts["gain"] = _GAIN.get(f.facts.get("kind"), "")
    elif f.signal == "update_ratio":
        facts["value"] = f"{f.value:.2f}"
        facts["pct"] = num(100 * 10 ** f.value, 2)
    elif f.signal in ("vanishing", "exploding") and "rms" in f.facts:
        ratio = f.value if f.signal == "exploding" or f.value == 0 else 1 / f.value
        facts.update(times=f"{ratio:.2g}", rms=num(f.facts["rms"]),
                     last_rms=num(f.facts["last_rms"]))
    elif f.signal == "initial_loss":
        facts.update(loss=num(f.value), expected=num(f.facts["expected"]))
    key = f"msg.{f.signal}"
    if f.signal == "exploding" and "rms" not in f.facts:
        key = "msg.exploding_nan"  # a gradient that is NaN or infinite: no ratio
    elif f.signal == "vanishing" and f.value == 0:
        key = "msg.vanishing_zero"
    return T[key].format(**facts) + T["help"] + T[f"fix.{f.signal}"]
