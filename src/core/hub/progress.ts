/**
 * Download progress: bytes so far, the total, and the speed over the last few seconds (a sliding
 * window, so that a stall shows as a falling speed rather than a long-run average).
 */
import { formatBytes } from '../files/diskFull';

export interface HubProgress {
  /** the file being downloaded (its path in the repository), or the last one when `done` */
  file: string;
  /** bytes of every file of this request so far (resumed bytes included) */
  bytes: number;
  /** bytes of every file of this request */
  total: number;
  /** bytes per second over the last few seconds (0 before a second sample) */
  bytesPerSec: number;
  /** files finished / files to get */
  filesDone: number;
  files: number;
}

export type OnHubProgress = (p: HubProgress) => void;

const WINDOW_MS = 5000;

/** Keeps the recent (time, bytes) samples and says the speed over them. */
export class SpeedMeter {
  private samples: [number, number][] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** records `bytes` (a running count) and returns the speed in bytes/s over the window */
  sample(bytes: number): number {
    const t = this.now();
    this.samples.push([t, bytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > WINDOW_MS) this.samples.shift();
    const [t0, b0] = this.samples[0];
    return t > t0 ? ((bytes - b0) * 1000) / (t - t0) : 0;
  }
}

/** `1.2 GiB / 2.8 GiB · 45 MiB/s · 0:36 left` */
export function progressText(p: HubProgress): string {
  const speed = p.bytesPerSec > 0 ? ` · ${formatBytes(Math.round(p.bytesPerSec))}/s` : '';
  const left = p.bytesPerSec > 0 && p.total > p.bytes ? ` · ${duration((p.total - p.bytes) / p.bytesPerSec)} left` : '';
  const files = p.files > 1 ? ` · file ${Math.min(p.filesDone + 1, p.files)}/${p.files}` : '';
  return `${formatBytes(p.bytes)} / ${formatBytes(p.total)}${speed}${left}${files}`;
}

function duration(s: number): string {
  const t = Math.ceil(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
