"""The loss options PyTorch code uses, in chainrule: a per-pixel classifier trained with class
weights, an ignored label and label smoothing, then one line each for probability
targets, pos_weight, Huber and a distillation KL.

    python examples/loss_options.py
"""

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim

IGNORE = -100  # PyTorch's default ignore_index: "no label here"

cr.manual_seed(0)
rng = np.random.default_rng(0)

# Images (N, 1, 8, 8); each pixel's class is its intensity band: low, middle or high.
images = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
masks = np.digitize(images[:, 0], [-1.0, 1.0])  # (N, 8, 8) class indices 0, 1, 2
masks[:, 0, :] = IGNORE  # an unlabelled border row, as annotation tools leave them
counts = np.bincount(masks[masks != IGNORE], minlength=3)
class_weight = (counts.sum() / (3 * counts)).astype(np.float32)  # the rare bands weigh more
print("pixels per class", counts.tolist(), "weights", [round(float(w), 2) for w in class_weight])

model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 1))
loss_fn = nn.CrossEntropyLoss(weight=class_weight, ignore_index=IGNORE, label_smoothing=0.05)
opt = optim.Adam(model.parameters(), lr=0.02)
x = cr.tensor(images)
for step in range(100):
    logits = model(x)  # (N, 3, 8, 8): the class axis is 1, as PyTorch's
    loss = loss_fn(logits, masks)  # masks (N, 8, 8): one class index per pixel
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        print(f"step {step:2d}  weighted, smoothed cross-entropy {loss.item():.4f}")
with cr.no_grad():
    logits = model(x)
labelled = masks != IGNORE
accuracy = (logits.numpy().argmax(axis=1) == masks)[labelled].mean()
print(f"pixel accuracy on labelled pixels {accuracy:.3f}")
per_pixel = F.cross_entropy(logits, masks, reduction="none")  # (N, 8, 8), 0 where ignored
print("per-pixel losses", per_pixel.shape, "ignored row sums to", per_pixel.numpy()[:, 0].sum())

# Probability targets (mixup: two samples blended, so are their labels).
logits = cr.randn(4, 3)
soft = np.array([[0.7, 0.3, 0.0], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.2, 0.2, 0.6]])
print(f"soft-target cross-entropy {F.cross_entropy(logits, soft).item():.4f}")
# Multi-label: 3 independent yes/no outputs, positives of the rare label weigh 4 times.
targets = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
bce = nn.BCEWithLogitsLoss(pos_weight=np.array([1.0, 1.0, 4.0], np.float32))
print(f"BCE with pos_weight {bce(logits, targets).item():.4f}")
# Regression that shrugs off outliers.
print(f"Huber (delta 1) {F.huber_loss(logits, targets * 10, delta=1.0).item():.4f}")
# Distillation: a student's log-probabilities against a teacher's probabilities.
teacher = F.softmax(cr.randn(4, 3) * 2, axis=1)
student = F.log_softmax(logits, axis=1)
kl = F.kl_div(student, teacher, reduction="batchmean")
print(f"KL(teacher || student) per sample {kl.item():.4f}")
