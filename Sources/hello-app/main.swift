// hello-app: the example service Slipway deploys in docs and tests, and a fast
// benchmark backend. See `Settings.usage` for flags and fault injection.
HelloServer.run()
