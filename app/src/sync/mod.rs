//! Client sync logic as pure functions: clock estimation and the decision of what the player
//! should do. No browser types here, so all of it is unit-tested natively.
