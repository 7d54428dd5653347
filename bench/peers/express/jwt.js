// The explainer's jsonwebtoken example, as written. Only the last line is ours: the explainer
// does not say where it listens; bench/run.sh passes PORT.
import express from "express";
import jwt from "jsonwebtoken";

const app = express();
const SECRET = "mysecret";

app.post("/login", (req, res) => {
  const user = { id: 1, name: "Bhaskar" };
  const token = jwt.sign(user, SECRET, { expiresIn: "1h" });
  res.json({ token });
});

app.get("/profile", (req, res) => {
  const token = req.headers.authorization?.split(" ")[1];
  if (!token) return res.status(401).send("Unauthorized");

  try {
    const decoded = jwt.verify(token, SECRET);
    res.send(`Welcome ${decoded.name}`);
  } catch {
    res.status(401).send("Invalid Token");
  }
});

app.listen(Number(process.env.PORT), "127.0.0.1");
