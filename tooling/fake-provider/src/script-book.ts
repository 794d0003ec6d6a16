import type { Behaviour } from "./behaviour.ts";

// Which behaviour a request gets: the one-shot queue first (FIFO, any model), then the
// behaviour scripted for its model, then the default (a plain successful answer).
export type ScriptBook = {
  script(model: string, behaviour: Behaviour): void;
  next(behaviour: Behaviour): void;
  pick(model: string | null): Behaviour;
  scriptedModels(): string[];
  reset(): void;
};

export function createScriptBook(): ScriptBook {
  const byModel = new Map<string, Behaviour>();
  const queue: Behaviour[] = [];
  return {
    script(model, behaviour) {
      byModel.set(model, behaviour);
    },
    next(behaviour) {
      queue.push(behaviour);
    },
    pick(model) {
      const queued = queue.shift();
      if (queued) return queued;
      return (model === null ? undefined : byModel.get(model)) ?? {};
    },
    scriptedModels() {
      return [...byModel.keys()];
    },
    reset() {
      byModel.clear();
      queue.length = 0;
    },
  };
}
