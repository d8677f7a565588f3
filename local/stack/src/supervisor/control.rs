//! The control API's requests, carried out on the running services.

use super::*;

/// Carries out one control API request.
pub(super) async fn handle(request: Request, services: &mut [Service]) {
    match request {
        Request::Status(reply) => {
            let _ = reply.send(services.iter().map(Service::status).collect());
        }
        Request::Act {
            service,
            action,
            reply,
        } => {
            let Some(target) = services.iter_mut().find(|s| s.name == service) else {
                let _ = reply.send(Err(format!("no service {service:?}")));
                return;
            };
            log("stack", &format!("{service}: {action:?} (requested)"));
            let result = match action {
                Action::Stop => {
                    target.hold(false, STOP_GRACE).await;
                    Ok(())
                }
                Action::Kill => {
                    target.hold(true, STOP_GRACE).await;
                    Ok(())
                }
                Action::Start => target.release(),
                Action::Restart => {
                    target.hold(false, STOP_GRACE).await;
                    target.release()
                }
                Action::Pause => target.signal(Signal::SIGSTOP),
                Action::Resume => target.signal(Signal::SIGCONT),
            };
            let _ = reply.send(result.map_err(|err| err.to_string()));
        }
    }
}
