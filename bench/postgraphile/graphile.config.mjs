// PostGraphile reference server of bench/run.py (issue 14). The bench copies
// this file next to the PostGraphile it installs (bench/.postgraphile/) and
// starts it with Node 22, GRAPHILE_ENV=production, DATABASE_URL and PORT.
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // The Subscription root type is not needed here, and a table type named
  // like a root type could clash with it.
  disablePlugins: ["SubscriptionPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: 10 },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT),
    watch: false,
    graphiql: false,
  },
  grafast: { explain: false },
};

export default preset;
