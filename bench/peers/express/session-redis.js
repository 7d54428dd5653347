// The explainer's express-session example with its sessions in Redis (connect-redis, the usual
// store), otherwise as written. Ours: the store lines and the last line (bench/run.sh passes
// PORT and REDIS_URL).
import express from "express";
import session from "express-session";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";

const redisClient = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379" });
await redisClient.connect();

const app = express();

app.use(session({
  store: new RedisStore({ client: redisClient, prefix: "cloakroom-bench-sess:" }),
  secret: "mysecret",
  resave: false,
  saveUninitialized: true,
}));

app.post("/login", (req, res) => {
  req.session.user = { id: 1, name: "Bhaskar" };
  res.send("Logged in");
});

app.get("/profile", (req, res) => {
  if (req.session.user) {
    res.send(`Welcome ${req.session.user.name}`);
  } else {
    res.status(401).send("Unauthorized");
  }
});

app.listen(Number(process.env.PORT), "127.0.0.1");
