// The explainer's express-session example, as written (default MemoryStore). Only the last
// lines are ours: the explainer does not say where it listens; bench/run.sh passes PORT.
import express from "express";
import session from "express-session";

const app = express();

app.use(session({
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
