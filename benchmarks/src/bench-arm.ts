import { type TracerProvider, trace } from '@opentelemetry/api';

/** One arm's round: the latency of each call and the process CPU it cost. */
export interface ArmRound {
  /** Latency of each call, ns. */
  ns: number[];
  /** Process CPU (user + system, all threads) per call until the round's work settled, µs. */
  cpuUs: number;
}

/** A way of making a traced tool call, measured round by round. */
export interface Arm {
  name: string;
  /** Made the global tracer provider for the arm's rounds (undefined: leave the global alone). */
  provider?: TracerProvider;
  /** One call, as the user's code makes it. */
  call?: () => Promise<unknown>;
  /** Or the whole round, when calls need an enclosing scope (a run open for the round). */
  round?: (n: number, ns: number[]) => Promise<void>;
  /** Waits until everything the calls started is done (exported, durable, forwarded). */
  settle: () => Promise<void>;
}

export async function measureRound(arm: Arm, n: number): Promise<ArmRound> {
  if (arm.provider) {
    trace.disable();
    trace.setGlobalTracerProvider(arm.provider);
  }
  const ns = new Array<number>(n).fill(0);
  const cpu0 = process.cpuUsage();
  if (arm.round) {
    await arm.round(n, ns);
  } else {
    const call = arm.call!;
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await call();
      ns[i] = Number(process.hrtime.bigint() - t0);
    }
  }
  await arm.settle();
  const cpu = process.cpuUsage(cpu0);
  return { ns, cpuUs: (cpu.user + cpu.system) / n };
}
