import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";

async function start() {
  // The test build runs against a scripted backend instead of the Rust side.
  if (import.meta.env.MODE === "test") {
    const { installMockBackend } = await import("../test/mock-backend");
    installMockBackend(new URLSearchParams(location.search));
  }
  mount(App, { target: document.getElementById("app")! });
}

start();
