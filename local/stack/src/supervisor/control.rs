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
            let result = match (result, action) {
                (Ok(()), Action::Start | Action::Restart) => {
                    restart_dependents(&service, services).await
                }
                (result, _) => result,
            };
            let _ = reply.send(result.map_err(|err| err.to_string()));
        }
    }
}

/// tansu keeps its data in memory: when it starts again it has no topics and
/// no consumer offsets, so the local broker's halves start again too (and
/// create the topic anew). What tansu held is lost; the relay's
/// reconciliation sends it again. (Kafka on a cluster keeps its data.)
pub(super) async fn restart_dependents(
    service: &str,
    services: &mut [Service],
) -> std::io::Result<()> {
    if service != "kafka" {
        return Ok(());
    }
    for dependent in services
        .iter_mut()
        .filter(|s| matches!(s.name.as_str(), "broker-ingress" | "broker-dispatch") && !s.is_held())
    {
        log(
            "stack",
            &format!(
                "{}: restarting (Kafka started again, empty)",
                dependent.name
            ),
        );
        dependent.hold(false, STOP_GRACE).await;
        dependent.release()?;
    }
    Ok(())
}
