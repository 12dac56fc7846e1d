//! The IPC commands, made from the one list in `nubo_ipc::commands!`: each
//! is a request to the controller (`controller::Command`), answered by its
//! method of the same name.

use nubo_ipc::*;
use tauri::State;

use crate::controller::{Command, Handle};

macro_rules! tauri_commands {
    ($( $(#[doc = $doc:literal])* $name:ident ( $($arg:ident : $ty:ty),* ) -> $reply:ty ; )*) => {
        $(
            $(#[doc = $doc])*
            #[tauri::command]
            pub async fn $name(c: State<'_, Handle>, $($arg: $ty),*) -> Result<$reply, CommandError> {
                c.ask(|reply| Command::$name { $($arg,)* reply }).await
            }
        )*

        /// Every command, for `invoke_handler` (the app's and the tests').
        pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }
    };
}
nubo_ipc::commands!(tauri_commands);
