// kill -9 of each of the three backends in the middle of a burst of posts to a group homed on a
// (issue 18, point 6): the killed one runs as `node dist/main.js serve` and is started again; at
// the end every message a backend accepted is in every history once, in the same order, with
// each poster's messages in the order they were sent. A post whose answer the kill cut off may
// be there or not, but once at most and the same everywhere.
import { afterEach, expect, it } from 'vitest';
import type { Backend } from '../../helpers/backends.js';
import { eventually, group, historiesAre, person, startTrio, textsOf, type Person, type Trio } from './support.js';

let trio: Trio | undefined;

afterEach(async () => {
  await Promise.all(trio?.all.map((backend) => backend.destroy()) ?? []);
  trio = undefined;
});

const PER_POSTER = 12;
const KILL_AFTER = 4;

interface Burst {
  accepted: string[];
  /** Sent, and answered by no status (the backend died under it). */
  unanswered: string[];
}

/** Posts PER_POSTER messages one after the other, stopping at the first send the backend cannot answer. */
async function burstFrom(poster: Person, id: string, onSent: () => Promise<void>): Promise<Burst> {
  const result: Burst = { accepted: [], unanswered: [] };
  for (let index = 1; index <= PER_POSTER; index++) {
    const text = `${poster.username} ${index}`;
    try {
      const sent = await poster.api.send(poster, id, text);
      if (sent.status !== 201) throw new Error(`${sent.status}`);
      result.accepted.push(text);
    } catch {
      result.unanswered.push(text);
      return result;
    }
    await onSent();
  }
  return result;
}

it.each(['a', 'b', 'c'])('loses and doubles nothing when %s is killed with SIGKILL mid-burst', async (victimName) => {
  trio = await startTrio('sqlite', { start: false });
  const victim = trio.all.find((backend) => backend.name === victimName) as Backend;
  await Promise.all(trio.all.map((backend) => (backend === victim ? backend.spawn() : backend.start())));
  const [alice, bob, carol] = await Promise.all([person(trio.a), person(trio.b), person(trio.c)]);
  const posters = [alice, bob, carol];
  const { id } = await group(alice, `Crash of ${victimName}`, [bob, carol]);
  await historiesAre(posters, id, []);

  // The victim dies once the first posters' sends are in flight everywhere.
  let sends = 0;
  let killed: Promise<void> | undefined;
  const countSend = async () => {
    if (++sends === KILL_AFTER * posters.length) killed = victim.stop();
  };
  const bursts = await Promise.all(posters.map((poster) => burstFrom(poster, id, countSend)));
  await killed;
  expect(sends, 'sends answered before the kill').toBeGreaterThanOrEqual(KILL_AFTER * posters.length);

  await victim.spawn();
  // Every accepted message is there once everywhere, in the same order; each poster's in the order sent.
  const agreed = await eventually(async () => {
    const histories = await Promise.all(posters.map((member) => textsOf(member, id)));
    for (const [index, history] of histories.entries()) {
      expect(history, `${posters[index]!.address}'s history`).toEqual(histories[0]);
      for (const [posterIndex, poster] of posters.entries()) {
        const own = history.filter((line) => line.startsWith(`${poster.address}: `)).map((line) => line.slice(poster.address.length + 2));
        const { accepted, unanswered } = bursts[posterIndex]!;
        // A send cut off by the kill may have been stored before it died: then it comes last, once.
        expect([accepted, [...accepted, ...unanswered]], `${poster.address}'s messages on ${posters[index]!.backend.name}`).toContainEqual(own);
      }
    }
    return histories[0]!;
  }, 60_000);
  expect(new Set(agreed).size).toBe(agreed.length);
  expect(bursts.reduce((sum, burst) => sum + burst.accepted.length, 0)).toBeGreaterThanOrEqual(KILL_AFTER * posters.length);
}, 120_000);
