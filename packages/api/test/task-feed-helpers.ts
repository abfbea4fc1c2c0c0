// Shared by the task-feed tests: a follower that records what it is given, and a bounded wait.
import type { FollowEnd, PendingFollow } from '../src/services/task-fanout.js';

/** Attaches a follower recording the seq of every entry; `ended` resolves with why it ended. */
export function collect(pending: PendingFollow) {
  const seqs: number[] = [];
  let resolveEnd!: (reason: FollowEnd) => void;
  const ended = new Promise<FollowEnd>((resolve) => {
    resolveEnd = resolve;
  });
  pending.attach({ deliver: (entry) => void seqs.push(entry.seq), end: resolveEnd });
  return { seqs, ended };
}

/** `promise`, or a rejection naming `what` after `ms`. */
export const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
