"""Regenerates the sample workspace images (deterministic). Run: /usr/bin/python3 samples/make_samples.py"""
import os, random
from PIL import Image, ImageDraw

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workspace")
os.makedirs(here, exist_ok=True)
rng = random.Random(7)

# 1. circles: 4 red, 6 blue on white
img = Image.new("RGB", (640, 480), "white")
d = ImageDraw.Draw(img)
placed = []
for color, n in (("#d62728", 4), ("#1f77b4", 6)):
    k = 0
    while k < n:
        x, y, r = rng.randint(40, 600), rng.randint(40, 440), rng.randint(18, 30)
        if all((x - a) ** 2 + (y - b) ** 2 > (r + c + 8) ** 2 for a, b, c in placed):
            placed.append((x, y, r)); d.ellipse([x - r, y - r, x + r, y + r], fill=color); k += 1
img.save(os.path.join(here, "circles.png"))

# 2. bar chart: five labelled bars (A-E), gridlines every 10 units, no tick labels
#    (the same drawing conventions as test/fixtures/images.ts barChartImage)
vals = [23, 41, 17, 35, 29]
W, H, x0, x1 = 560, 420, 50, 540
base = H - 40
ngrid = -(-max(vals) // 10)
step = (base - 30) // ngrid
img = Image.new("RGB", (W, H), "white")
d = ImageDraw.Draw(img)
for k in range(1, ngrid + 1):
    d.rectangle([x0, base - k * step, x1 - 1, base - k * step + 1], fill=(170, 170, 170))
slot = (x1 - x0) / len(vals)
bw = max(6, round(slot * 0.6))
for i, v in enumerate(vals):
    h = round(v * step / 10)
    x = round(x0 + i * slot + (slot - bw) / 2)
    d.rectangle([x, base - h, x + bw - 1, base - 1], fill=(70, 130, 180))
    d.text((x + bw // 2 - 3, base + 8), "ABCDE"[i], fill="black")
d.rectangle([x0 - 2, 20, x0 - 1, base + 1], fill="black")
d.rectangle([x0 - 2, base, x1 - 1, base + 1], fill="black")
img.save(os.path.join(here, "bars.png"))

# 3. a small object in a large image
img = Image.new("RGB", (2048, 1536), (235, 235, 225))
d = ImageDraw.Draw(img)
d.rectangle([1530, 410, 1546, 426], fill=(200, 30, 160))
img.save(os.path.join(here, "small_object.jpg"), quality=92)
print("wrote", sorted(os.listdir(here)))
