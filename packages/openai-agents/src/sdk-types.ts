import type { Agent, FunctionTool, Handoff, RunContext, RunState } from '@openai/agents';

// The SDK's classes are generic over the user's context and output types; an integration that
// audits any agent has to accept every instantiation.
// biome-ignore lint/suspicious/noExplicitAny: any user context and output type
export type AnyAgent = Agent<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: any user context, parameters and result
export type AnyFunctionTool = FunctionTool<any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: any user context and output type
export type AnyHandoff = Handoff<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: any user context
export type AnyRunContext = RunContext<any>;
// biome-ignore lint/suspicious/noExplicitAny: any user context and agent type
export type AnyRunState = RunState<any, any>;
