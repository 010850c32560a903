/** Worker entry: the HTTP app, the cron sweep, and the Durable Object class. */
import { createApp } from "./app";
import { scheduled } from "./sweep/scheduled";

export { AgentObject } from "./agent/agent-object";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  scheduled: async (controller, env, ctx) => {
    await scheduled(controller, env, ctx);
  },
} satisfies ExportedHandler<Env>;
