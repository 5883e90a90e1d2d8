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

# 2. bar chart: five bars with values
vals = [23, 41, 17, 35, 29]
img = Image.new("RGB", (600, 400), "white")
d = ImageDraw.Draw(img)
d.line([50, 350, 580, 350], fill="black", width=2)
for i, v in enumerate(vals):
    x = 80 + i * 100
    d.rectangle([x, 350 - v * 7, x + 60, 350], fill="#2ca02c")
    d.text((x + 22, 356), "ABCDE"[i], fill="black")
img.save(os.path.join(here, "bars.png"))

# 3. a small object in a large image
img = Image.new("RGB", (2048, 1536), (235, 235, 225))
d = ImageDraw.Draw(img)
d.rectangle([1530, 410, 1546, 426], fill=(200, 30, 160))
img.save(os.path.join(here, "small_object.jpg"), quality=92)
print("wrote", sorted(os.listdir(here)))
