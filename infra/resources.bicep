// The resources of one environment, in its resource group (infra/main.bicep deploys this module).
// Names, address ranges and sizes come from the environment file (param env).

@description('The environment file, infra/environments/<environment>.json.')
param env object

param tags object

@secure()
param postgresAdminPassword string

@description('AKS Kubernetes version (major.minor), see main.bicep.')
param kubernetesVersion string

param adminIpRanges array

param clusterAdminGroupObjectIds array

var location = env.location
var namespace = env.kubernetes.namespace
// The Deployments of the system: each gets a PostgreSQL role and URL, and a ServiceAccount of the
// same name that the workload identity trusts.
var deployments = [
  'order-service'
  'customer-service'
  'inventory-worker'
  'payment-worker'
  'shipping-worker'
  'notification-worker'
  'analytics-worker'
]
// Every ServiceAccount that reads Key Vault through the CSI driver (kustomize/components/
// azure-keyvault annotates exactly these; the deploy tier compares the two lists).
var workloadServiceAccounts = concat(deployments, [
  'otel-collector'
  'postgres-roles'
])

// ---- monitoring ----

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: env.names.logAnalytics
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: env.names.appInsights
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
  }
}

// ---- network: AKS nodes and pods, PostgreSQL's delegated subnet, private endpoints ----

resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' = {
  name: env.names.vnet
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        env.network.vnetCidr
      ]
    }
    subnets: [
      {
        name: 'aks'
        properties: {
          addressPrefix: env.network.aksSubnetCidr
        }
      }
      {
        name: 'postgres'
        properties: {
          addressPrefix: env.network.postgresSubnetCidr
          delegations: [
            {
              name: 'postgres'
              properties: {
                serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: env.network.privateEndpointSubnetCidr
        }
      }
    ]
  }
}

resource postgresDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: '${env.names.postgres}.private.postgres.database.azure.com'
  location: 'global'
  tags: tags
}

resource postgresDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: postgresDnsZone
  name: 'vnet'
  location: 'global'
  properties: {
    virtualNetwork: {
      id: vnet.id
    }
    registrationEnabled: false
  }
}

resource keyVaultDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.vaultcore.azure.net'
  location: 'global'
  tags: tags
}

resource keyVaultDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: keyVaultDnsZone
  name: 'vnet'
  location: 'global'
  properties: {
    virtualNetwork: {
      id: vnet.id
    }
    registrationEnabled: false
  }
}

// ---- registry: the pipeline pushes plexus-host and the mirrored third-party images ----

resource acr 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: env.names.acr
  location: location
  tags: tags
  sku: {
    name: 'Premium'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    // GitHub-hosted runners push from the internet; with self-hosted runners in the VNet, set
    // 'Disabled' and add a private endpoint.
    publicNetworkAccess: 'Enabled'
    zoneRedundancy: 'Enabled'
  }
}

// ---- AKS ----

resource aks 'Microsoft.ContainerService/managedClusters@2024-02-01' = {
  name: env.names.aks
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    kubernetesVersion: kubernetesVersion
    dnsPrefix: env.names.aks
    enableRBAC: true
    // Entra ID sign-in; Kubernetes RBAC decides (kustomize/bootstrap binds the pipeline's
    // identity to the Role plexus-deployer). No local admin account.
    aadProfile: {
      managed: true
      enableAzureRBAC: false
      adminGroupObjectIDs: clusterAdminGroupObjectIds
    }
    disableLocalAccounts: true
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        vmSize: env.aks.nodeVmSize
        osType: 'Linux'
        osDiskSizeGB: 128
        count: 2
        enableAutoScaling: true
        minCount: 2
        maxCount: 3
        vnetSubnetID: '${vnet.id}/subnets/aks'
        availabilityZones: [
          '1'
          '2'
          '3'
        ]
        nodeTaints: [
          'CriticalAddonsOnly=true:NoSchedule'
        ]
      }
      {
        name: 'apps'
        mode: 'User'
        vmSize: env.aks.nodeVmSize
        osType: 'Linux'
        osDiskSizeGB: 128
        count: env.aks.nodeMinCount
        enableAutoScaling: true
        minCount: env.aks.nodeMinCount
        maxCount: env.aks.nodeMaxCount
        vnetSubnetID: '${vnet.id}/subnets/aks'
        availabilityZones: [
          '1'
          '2'
          '3'
        ]
      }
    ]
    networkProfile: {
      networkPlugin: 'azure'
      // The overlays' NetworkPolicies need an enforcing policy engine.
      networkPolicy: 'azure'
      loadBalancerSku: 'standard'
      serviceCidr: env.network.serviceCidr
      dnsServiceIP: env.network.dnsServiceIP
    }
    addonProfiles: {
      azurepolicy: {
        enabled: true
      }
      omsagent: {
        enabled: true
        config: {
          logAnalyticsWorkspaceResourceID: logAnalytics.id
        }
      }
      azureKeyvaultSecretsProvider: {
        enabled: true
        config: {
          enableSecretRotation: 'true'
        }
      }
    }
  }
}

// The AKS identity joins the nodes to the VNet's subnet.
var networkContributorRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4d97b98b-1d4f-4787-a291-c67834d212e7')
resource aksNetwork 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vnet.id, aks.id, networkContributorRoleId)
  scope: vnet
  properties: {
    roleDefinitionId: networkContributorRoleId
    principalId: aks.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The kubelet pulls images from ACR with its managed identity (no registry password).
var acrPullRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
resource aksAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(acr.id, aks.id, acrPullRoleId)
  scope: acr
  properties: {
    roleDefinitionId: acrPullRoleId
    principalId: aks.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

// ---- PostgreSQL: private access only (VNet integration), TLS required ----

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: env.names.postgres
  location: location
  tags: tags
  sku: {
    name: env.postgres.skuName
    tier: env.postgres.skuTier
  }
  properties: {
    version: '16'
    administratorLogin: env.postgres.adminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: {
      storageSizeGB: 128
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: env.postgres.backupRetentionDays
      geoRedundantBackup: env.postgres.geoRedundantBackup
    }
    highAvailability: {
      mode: env.postgres.highAvailability
    }
    network: {
      delegatedSubnetResourceId: '${vnet.id}/subnets/postgres'
      privateDnsZoneArmResourceId: postgresDnsZone.id
      publicNetworkAccess: 'Disabled'
    }
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Disabled'
    }
  }
  dependsOn: [
    postgresDnsLink
  ]
}

// One database; every Deployment has its own role and schema in it (the postgres-roles Job).
resource plexusDb 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: 'plexus'
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// ---- Key Vault: RBAC, no public access except the administrators' ranges ----

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: env.names.keyVault
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: empty(adminIpRanges) ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'None'
      ipRules: [for range in adminIpRanges: {
        value: range
      }]
    }
  }
}

// The cluster reaches Key Vault through a private endpoint in the VNet.
resource keyVaultEndpoint 'Microsoft.Network/privateEndpoints@2024-01-01' = {
  name: 'pe-${env.names.keyVault}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: '${vnet.id}/subnets/private-endpoints'
    }
    privateLinkServiceConnections: [
      {
        name: 'vault'
        properties: {
          privateLinkServiceId: keyVault.id
          groupIds: [
            'vault'
          ]
        }
      }
    ]
  }
}

resource keyVaultEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-01-01' = {
  parent: keyVaultEndpoint
  name: 'vault'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'vault'
        properties: {
          privateDnsZoneId: keyVaultDnsZone.id
        }
      }
    ]
  }
}

resource postgresPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'postgres-admin-password'
  properties: {
    value: postgresAdminPassword
  }
}

resource appInsightsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'appinsights-connection-string'
  properties: {
    value: appInsights.properties.ConnectionString
  }
}

// Each Deployment's PostgreSQL URL: its own role, verify-full against the public CA bundle of the
// image. No password in it: pg-password-<deployment> holds that (docs/deploy.md, "Secrets").
resource postgresUrlSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for d in deployments: {
  parent: keyVault
  name: 'pg-url-${d}'
  properties: {
    value: 'postgresql://${replace(d, '-', '_')}@${postgres.properties.fullyQualifiedDomainName}:5432/plexus?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt'
  }
}]

// ---- identities ----

// The pods' identity: reads Key Vault secrets through the CSI driver (workload identity, one
// federated credential per ServiceAccount; Azure accepts them one at a time).
resource workloadIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: env.names.workloadIdentity
  location: location
  tags: tags
}

@batchSize(1)
resource workloadFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = [for sa in workloadServiceAccounts: {
  parent: workloadIdentity
  name: sa
  properties: {
    issuer: aks.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${namespace}:${sa}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}]

var keyVaultSecretsUserRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
resource workloadKeyVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, workloadIdentity.id, keyVaultSecretsUserRoleId)
  scope: keyVault
  properties: {
    roleDefinitionId: keyVaultSecretsUserRoleId
    principalId: workloadIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The pipeline's identity: GitHub Actions logs in as it with OIDC (a federated credential for the
// repository's environment; no stored password). It pushes images, fetches a kubeconfig, reads the
// workload identity's client id; what it may do in the cluster is Kubernetes RBAC
// (kustomize/bootstrap).
resource deployIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: env.names.deployIdentity
  location: location
  tags: tags
}

resource deployFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: deployIdentity
  name: 'github-${env.github.environment}'
  properties: {
    issuer: 'https://token.actions.githubusercontent.com'
    subject: 'repo:${env.github.repository}:environment:${env.github.environment}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

var acrPushRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '8311e382-0749-4cb8-b61a-304f252e45ec')
resource deployAcrPush 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(acr.id, deployIdentity.id, acrPushRoleId)
  scope: acr
  properties: {
    roleDefinitionId: acrPushRoleId
    principalId: deployIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

var aksClusterUserRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4abbcc35-e782-43d8-92c5-2d3f1bd2253f')
resource deployAksUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(aks.id, deployIdentity.id, aksClusterUserRoleId)
  scope: aks
  properties: {
    roleDefinitionId: aksClusterUserRoleId
    principalId: deployIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

var readerRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')
resource deployReadsWorkloadIdentity 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workloadIdentity.id, deployIdentity.id, readerRoleId)
  scope: workloadIdentity
  properties: {
    roleDefinitionId: readerRoleId
    principalId: deployIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---- diagnostic settings: control plane and data plane logs to Log Analytics ----

resource aksDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: aks
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'kube-apiserver'
        enabled: true
      }
      {
        category: 'kube-audit-admin'
        enabled: true
      }
      {
        category: 'kube-controller-manager'
        enabled: true
      }
      {
        category: 'guard'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource postgresDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: postgres
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'PostgreSQLLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource keyVaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: keyVault
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource acrDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: acr
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'ContainerRegistryLoginEvents'
        enabled: true
      }
      {
        category: 'ContainerRegistryRepositoryEvents'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output aksName string = aks.name
output acrLoginServer string = acr.properties.loginServer
output keyVaultName string = keyVault.name
output postgresHost string = postgres.properties.fullyQualifiedDomainName
output workloadClientId string = workloadIdentity.properties.clientId
output deployClientId string = deployIdentity.properties.clientId
output deployPrincipalId string = deployIdentity.properties.principalId
