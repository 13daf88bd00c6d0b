import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import type { StructuredToolInterface } from '@langchain/core/tools';
import {
  type BaseCheckpointSaver,
  END,
  MessagesAnnotation,
  START,
  StateGraph,
} from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';

export interface ScriptedCall {
  name: string;
  args: Record<string, unknown>;
  id: string;
}

/**
 * The LangGraph quick-start graph: a model node and LangGraph's prebuilt `ToolNode`, looping
 * while the model asks for tools. The model is LangChain's fake: one message with `calls`,
 * then a final answer.
 */
export function toolNodeGraph(
  tools: StructuredToolInterface[],
  calls: ScriptedCall[],
  checkpointer?: BaseCheckpointSaver,
) {
  const model = fakeModel().respondWithTools(calls).respond(new AIMessage('All done.'));
  const bound = model.bindTools(tools);
  const graph = new StateGraph(MessagesAnnotation)
    .addNode('agent', async (state: { messages: BaseMessage[] }) => ({
      messages: [await bound.invoke(state.messages)],
    }))
    .addNode('tools', new ToolNode(tools))
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', toolsCondition, ['tools', END])
    .addEdge('tools', 'agent')
    .compile(checkpointer === undefined ? {} : { checkpointer });
  return { model, graph };
}
