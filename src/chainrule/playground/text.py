"""The page's words, in English and Chinese: the explain view's phrase tables (the ledger
speaks exactly as ``chainrule explain`` does) plus the controls' own, under ``pg.``.

Numbers are language-free: both languages show the same digits. ``{name}`` marks a value
the page fills in, as in Python's ``str.format``.
"""

from __future__ import annotations

from pathlib import Path

from chainrule.explain.text import LANGS, TEXT

_EN = {
    "pg.title": "chainrule playground",
    "pg.subtitle": "backpropagation live, every number from chainrule's engine",
    "pg.play": "Play", "pg.pause": "Pause", "pg.step": "Step", "pg.reset": "Reset",
    "pg.regenerate": "Regenerate", "pg.epoch": "Epoch",
    "pg.lr": "Learning rate", "pg.activation": "Activation",
    "pg.regularization": "Regularization", "pg.reg_rate": "Regularization rate",
    "pg.reg.none": "None", "pg.reg.l1": "L1", "pg.reg.l2": "L2",
    "pg.problem": "Problem type", "pg.classification": "Classification",
    "pg.multiclass": "Classification, {k} classes", "pg.regression": "Regression",
    "pg.data": "Data", "pg.dataset": "Which dataset do you want to use?",
    "pg.ds.circle": "Circle", "pg.ds.xor": "XOR", "pg.ds.gauss": "Gaussian",
    "pg.ds.spiral": "Spiral", "pg.ds.gauss3": "3 Gaussians", "pg.ds.spiral3": "3-arm spiral",
    "pg.ds.plane": "Plane", "pg.ds.multi-gauss": "Multi-Gaussian", "pg.ds.csv": "Your CSV",
    "pg.train_fraction": "Ratio of training to test data: {v}%",
    "pg.noise": "Noise: {v}", "pg.batch_size": "Batch size: {v}", "pg.points": "Points: {v}",
    "pg.seed": "Seed", "pg.csv": "Your own points: drop a CSV file here (x1,x2,label per "
    "line) or", "pg.csv_choose": "choose a file",
    "pg.features": "Features", "pg.features_hint": "Which properties do you want to feed in?",
    "pg.hidden_layers": "{n} hidden layers", "pg.neurons": "{n} neurons",
    "pg.output": "Output", "pg.test_loss": "Test loss", "pg.train_loss": "Training loss",
    "pg.accuracy": "Accuracy", "pg.test_accuracy": "test",
    "pg.stop": "Stop when", "pg.stop_epochs": "epoch ≥", "pg.stop_loss": "training loss ≤",
    "pg.never": "0: never", "pg.speed": "Speed: {v} epochs/s", "pg.speed_max": "as fast as it goes",
    "pg.view": "View", "pg.view.forward": "Forward", "pg.view.backward": "Backward",
    "pg.export": "Export network file", "pg.export_png": "Export PNG",
    "pg.lang": "中文",
    "pg.ledger": "Ledger", "pg.ledger_hint": "Click a neuron to read its ledger; click a "
    "point of the data to choose the sample.",
    "pg.ledger_title": "Neuron {index} of layer {layer}, point {sample} ({kind})",
    "pg.kind.train": "training point", "pg.kind.test": "test point",
    "pg.dz_dw_in": "dz/dw = a_in", "pg.batch_sum": "Σ over its batch",
    "pg.batch_note": "Σ over its batch: dL/dw = Σ_n dz/dw × dl^n/dz over the {n} points it "
    "is trained with in the next epoch (autograd: {ok}); the step takes the mean, "
    "w − η·(dL/dw)/{n}",
    "pg.no_batch": "a test point: it is in no training batch",
    "pg.reg_note": "the step also adds the regularization penalty's gradient, which the "
    "ledger leaves out",
    "pg.sample": "point {i}", "pg.class": "class {c}",
    "pg.paused.stop_epochs": "Paused: epoch {n} reached", "pg.paused.stop_loss":
    "Paused: training loss ≤ {v}", "pg.paused.diverged": "Paused: the weights overflowed. "
    "Lower the learning rate and reset.", "pg.paused.error": "Paused: a step failed (a bug: "
    "the server's log has the details).",
    "pg.weight_card": "layer {layer}: w[{to}←{from}]", "pg.bias_card": "layer {layer}: b[{to}]",
    "pg.edit": "edit, then Enter",
    "pg.fps": "{fps} frames/s", "pg.ms": "engine {ms} ms/epoch",
    "pg.amplifier": "σ'(z)", "pg.backward_hint": "The reversed network for point {i}: dl/dz "
    "flows from the output (left) back through each amplifier σ'(z).",
    "pg.error": "Error",
    "pg.health.legend": "Neuron health (on the training points):",
    "pg.health.legend.dead": "dead ReLU", "pg.health.legend.saturated": "saturated",
    "pg.health.badge.dead": "D", "pg.health.badge.saturated": "S",
    "pg.health.dead": "Dead: this ReLU is 0 on every training point, so no gradient reaches "
    "its weights and it never learns again. help: smaller initial weights, a lower learning "
    "rate, or leaky units",
    "pg.health.saturated": "Saturated on {pct} % of the training points: the mean amplifier "
    "σ'(z) is {amp}, so little gradient gets through. help: smaller initial weights, a lower "
    "learning rate, or leaky units",
    "pg.health.dead_fix": "never active on any training point: no gradient reaches its "
    "weights. help: smaller initial weights, a lower learning rate, or leaky units",
    "pg.health.saturated_fix": "over 50 % of the training points in σ's flat tails (|tanh| > "
    "0.97, sigmoid outside [0.03, 0.97]). help: smaller initial weights, a lower learning "
    "rate, or leaky units",
}

_ZH = {
    "pg.title": "chainrule 神经网络游乐场",
    "pg.subtitle": "实时的反向传播，每个数都来自 chainrule 的引擎",
    "pg.play": "运行", "pg.pause": "暂停", "pg.step": "单步", "pg.reset": "重置",
    "pg.regenerate": "重新生成", "pg.epoch": "轮次",
    "pg.lr": "学习率", "pg.activation": "激活函数",
    "pg.regularization": "正则化", "pg.reg_rate": "正则化率",
    "pg.reg.none": "无", "pg.reg.l1": "L1", "pg.reg.l2": "L2",
    "pg.problem": "问题类型", "pg.classification": "分类", "pg.multiclass": "分类，{k} 类",
    "pg.regression": "回归",
    "pg.data": "数据", "pg.dataset": "选择数据集",
    "pg.ds.circle": "圆形", "pg.ds.xor": "异或", "pg.ds.gauss": "高斯", "pg.ds.spiral": "螺旋",
    "pg.ds.gauss3": "三个高斯", "pg.ds.spiral3": "三臂螺旋", "pg.ds.plane": "平面",
    "pg.ds.multi-gauss": "多高斯", "pg.ds.csv": "你的 CSV",
    "pg.train_fraction": "训练数据占比：{v}%",
    "pg.noise": "噪声：{v}", "pg.batch_size": "批大小：{v}", "pg.points": "点数：{v}",
    "pg.seed": "随机种子", "pg.csv": "你自己的点：把 CSV 文件拖到这里（每行 x1,x2,label），或",
    "pg.csv_choose": "选择文件",
    "pg.features": "特征", "pg.features_hint": "输入哪些特征？",
    "pg.hidden_layers": "{n} 个隐藏层", "pg.neurons": "{n} 个神经元",
    "pg.output": "输出", "pg.test_loss": "测试损失", "pg.train_loss": "训练损失",
    "pg.accuracy": "准确率", "pg.test_accuracy": "测试",
    "pg.stop": "停止条件", "pg.stop_epochs": "轮次 ≥", "pg.stop_loss": "训练损失 ≤",
    "pg.never": "0：不停止", "pg.speed": "速度：每秒 {v} 轮", "pg.speed_max": "尽可能快",
    "pg.view": "视图", "pg.view.forward": "前向", "pg.view.backward": "反向",
    "pg.export": "导出网络文件", "pg.export_png": "导出 PNG",
    "pg.lang": "English",
    "pg.ledger": "账目", "pg.ledger_hint": "点击一个神经元查看它的账目；点击一个数据点选择样本。",
    "pg.ledger_title": "第 {layer} 层的神经元 {index}，点 {sample}（{kind}）",
    "pg.kind.train": "训练点", "pg.kind.test": "测试点",
    "pg.dz_dw_in": "dz/dw = a_in", "pg.batch_sum": "对其批次求和",
    "pg.batch_note": "对其批次求和：dL/dw = Σ_n dz/dw × dl^n/dz，对下一轮与它同批训练的 {n} 个点"
    "求和（自动微分：{ok}）；这一步取平均，w − η·(dL/dw)/{n}",
    "pg.no_batch": "测试点：不在任何训练批次中",
    "pg.reg_note": "这一步还加上正则化惩罚项的梯度，账目里没有列出",
    "pg.sample": "点 {i}", "pg.class": "类别 {c}",
    "pg.paused.stop_epochs": "已暂停：达到第 {n} 轮", "pg.paused.stop_loss":
    "已暂停：训练损失 ≤ {v}", "pg.paused.diverged": "已暂停：权重溢出。请降低学习率并重置。",
    "pg.paused.error": "已暂停：这一步出错了（程序错误，详情见服务器日志）。",
    "pg.weight_card": "第 {layer} 层：w[{to}←{from}]", "pg.bias_card": "第 {layer} 层：b[{to}]",
    "pg.edit": "修改后按回车",
    "pg.fps": "每秒 {fps} 帧", "pg.ms": "引擎每轮 {ms} 毫秒",
    "pg.amplifier": "σ'(z)", "pg.backward_hint": "点 {i} 的反向网络：dl/dz 从输出层（左）出发，"
    "经过每个放大器 σ'(z) 向回传递。",
    "pg.health.legend": "神经元健康（在训练点上）：",
    "pg.health.legend.dead": "死亡的 ReLU", "pg.health.legend.saturated": "饱和",
    "pg.health.badge.dead": "死", "pg.health.badge.saturated": "饱",
    "pg.health.dead": "死亡：这个 ReLU 在每个训练点上都是 0，没有梯度能到达它的权重，它再也学"
    "不动了。help：更小的初始权重、更低的学习率，或用 leaky 单元",
    "pg.health.saturated": "在 {pct} % 的训练点上饱和：平均放大器 σ'(z) 为 {amp}，几乎没有梯"
    "度能通过。help：更小的初始权重、更低的学习率，或用 leaky 单元",
    "pg.health.dead_fix": "在任何训练点上都不激活：没有梯度到达它的权重。help：更小的初始权重、"
    "更低的学习率，或用 leaky 单元",
    "pg.health.saturated_fix": "超过 50 % 的训练点落在 σ 的平坦尾部（|tanh| > 0.97，sigmoid "
    "在 [0.03, 0.97] 之外）。help：更小的初始权重、更低的学习率，或用 leaky 单元",
    "pg.error": "错误",
}

_PAGE = {"en": _EN, "zh": _ZH}


def strings() -> dict:
    """{lang: {key: phrase}} for the page: the explain view's phrases and the page's own."""
    return {lang: {**TEXT[lang], **_PAGE[lang]} for lang in LANGS}


#: The page's Chinese web font (tools/subset_playground_font.py makes it).
STATIC = Path(__file__).resolve().parent / "static"
FONT_FILE = STATIC / "fonts" / "ChainrulePlaygroundCJK-Regular.otf"
#: From here up, a character is Chinese (CJK radicals, punctuation, ideographs, full-width
#: forms): the web font supplies these, the browser's own fonts the rest.
CJK_START = 0x2E80


def page_cjk_charset() -> str:
    """Every Chinese character the page can show: in its phrases and its static files."""
    chars = set()
    for table in strings().values():
        for phrase in table.values():
            chars.update(phrase)
    for path in STATIC.rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            chars.update(path.read_text(encoding="utf-8"))
    return "".join(sorted(c for c in chars if ord(c) >= CJK_START))
